"""Accounts: who can log in, with which roles, in which org unit.

Passwords are hashed with scrypt and checked in eventlet's thread pool (so a burst of logins
does not stall the service's other calls); five failures of a name from one address lock
that address out of it for 15 minutes, fifty from anywhere lock the name.
Staff and supervisors act only on their own org unit's subtree.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from eventlet import tpool

from services.common.access import Guard
from services.common.actor import ROLES, Actor, ancestors
from services.common.codec import to_wire
from services.common.crypto import DUMMY_PASSWORD_HASH, hash_password, verify_password
from services.common.document import Document
from services.common.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    RateLimited,
    Unauthenticated,
)
from services.common.text import name as checked_name
from services.identity import access
from services.identity.access import subject as subject_resource
from services.identity.orgunits import require_unit
from services.identity.store import IdentityStore

MAX_FAILED_LOGINS = 5  # from one address, for one name
MAX_FAILED_PER_NAME = 50  # from anywhere, for one name
KNOWN_FOR = timedelta(days=30)  # an address the owner signed in from escapes the name's lock
LOCKOUT = timedelta(minutes=15)
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{2,63}\Z")

# Which roles each role may grant when it creates an account.
GRANTABLE: dict[str, frozenset[str]] = {
    "admin": ROLES,
    "supervisor": frozenset({"staff", "citizen", "enterprise", "verifier"}),
    "staff": frozenset({"citizen", "enterprise", "verifier"}),
}
ORG_BOUND_ROLES = frozenset({"staff", "supervisor", "assessor", "auditor", "verifier"})
# Roles held alone, on an account of their own, granted by an administrator only: the doctor
# who signs assessments is not also the clerk who issues, the auditor does nothing else.
SOLE_ROLES = frozenset({"assessor", "auditor"})
VERIFIER_SCENES = frozenset(
    {"metro", "bus", "hospital", "hotel", "gov_counter", "library", "scenic_spot"}
)


def new_account_id() -> str:
    return "acc_" + secrets.token_hex(8)


def validate_password(password: Any) -> str:
    if not isinstance(password, str) or not 8 <= len(password) <= 128:
        raise InvalidInput("a password of 8–128 characters is required", field="password")
    return password


def grantable_by(actor: Actor) -> frozenset[str]:
    found: set[str] = set()
    for role in actor.roles:
        found |= GRANTABLE.get(role, frozenset())
    return frozenset(found)


def require_over(actor: Actor, account: Document) -> None:
    """Whoever disables, enables or resets an account could have granted all its roles: a
    street clerk manages the citizens and terminals of the street, never a supervisor or a
    fellow clerk."""
    if not set(account.get("roles") or []) <= grantable_by(actor):
        raise Forbidden("this account holds roles you could not grant", code="roles_not_grantable")


def validate_roles(actor: Actor, roles: Any) -> list[str]:
    if not isinstance(roles, list) or not roles or not all(isinstance(r, str) for r in roles):
        raise InvalidInput("a non-empty list of roles is required", field="roles")
    unknown = set(roles) - ROLES
    if unknown:
        raise InvalidInput(f"unknown roles: {', '.join(sorted(unknown))}", field="roles")
    if not set(roles) <= grantable_by(actor):
        raise Forbidden("you may not grant these roles")
    return sorted(set(roles))


def _check_sole_roles(granted: list[str], unit: Document | None, display_name: str | None) -> None:
    sole = set(granted) & SOLE_ROLES
    if sole and len(granted) > 1:
        raise InvalidInput(f"{', '.join(sorted(sole))} is held alone", field="roles")
    if "assessor" in sole:
        if unit is None or unit.get("kind") != "department":
            raise InvalidInput("an assessor is bound to the issuing department", field="org_path")
        if not display_name:  # the certificate names who assessed the holder
            raise InvalidInput("an assessor's account names the doctor", field="display_name")


def view(account: Document) -> dict[str, Any]:
    return to_wire(
        {
            "id": account["_id"],
            "username": account["username"],
            "display_name": account.get("display_name"),
            "roles": account["roles"],
            "org_path": account.get("org_path"),
            "subject_id": account.get("subject_id"),
            "scenes": account.get("scenes", []),
            "status": account["status"],
            "created_at": account["created_at"],
        }
    )


def claims(account: Document) -> dict[str, Any]:
    """What the gateway puts into an access token."""
    return {
        "account_id": account["_id"],
        "username": account["username"],
        "name": account.get("display_name") or account["username"],
        "roles": account["roles"],
        "org_path": account.get("org_path"),
        "subject_id": account.get("subject_id"),
        "scenes": account.get("scenes", []),
    }


def build_account(
    username: str,
    password: str,
    roles: list[str],
    org_path: str | None,
    display_name: str | None,
    subject_id: str | None,
    scenes: list[str],
    now: datetime,
    created_by: str | None,
) -> Document:
    return {
        "_id": new_account_id(),
        "username": username.lower(),
        "password_hash": hash_password(password),
        "roles": roles,
        "org_path": org_path,
        "org_ancestors": ancestors(org_path) if org_path else [],
        "display_name": display_name,
        "subject_id": subject_id,
        "scenes": scenes,
        "status": "active",
        "created_at": now,
        "created_by": created_by,
    }


def create_account(
    store: IdentityStore,
    guard: Guard,
    now: datetime,
    username: str,
    password: str,
    roles: list[str],
    org_path: str | None = None,
    display_name: str | None = None,
    subject_id: str | None = None,
    scenes: list[str] | None = None,
) -> dict[str, Any]:
    """An account in the caller's jurisdiction. A citizen login is bound to a person of that
    jurisdiction who has no login yet (checked here, where the people are: a login bound to
    anyone else would hand that person's code, wallet and payouts to whoever holds it)."""
    if not isinstance(username, str) or not USERNAME.match(username):
        raise InvalidInput("3–64 letters, digits or . _ @ -", field="username")
    validate_password(password)
    granted = validate_roles(guard.actor, roles)
    if org_path is None and set(granted) & ORG_BOUND_ROLES:
        raise InvalidInput("an org unit is required for this account", field="org_path")
    guard.require(access.org_unit_or_root(org_path), "no such org unit", field="org_path")
    unit = require_unit(store, org_path, "org_path") if org_path is not None else None
    if display_name is not None:  # one spelling, never blank (a blank shows nobody)
        display_name = checked_name(display_name, field="display_name")
    _check_sole_roles(granted, unit, display_name)
    if "verifier" in granted and not display_name:
        # A verifier is always named where a person reads who saw their data.
        display_name = f"{unit['name'] if unit else '核验点'}·{username.lower()}"
    scenes = scenes or []
    if not set(scenes) <= VERIFIER_SCENES:
        raise InvalidInput(f"scenes are among {', '.join(sorted(VERIFIER_SCENES))}", field="scenes")
    if scenes and "verifier" not in granted:
        raise InvalidInput("only verifier accounts have scenes", field="scenes")
    person = _bound_person(store, guard, granted, subject_id, org_path)
    account = build_account(
        username,
        password,
        granted,
        org_path,
        display_name,
        subject_id,
        scenes,
        now,
        guard.actor.account_id,
    )
    login = f"login:{person['_id']}" if person is not None else None
    if login is not None and not store.claim(login, now, account=account["_id"]):
        raise Conflict("this person already has a login", field="subject_id")
    if not store.insert_account(account):
        if login is not None:
            store.release_claim(login)
        raise Conflict("this username is taken", field="username")
    if person is not None:
        store.update_subject(person["_id"], {"account_id": account["_id"]})
    return view(account)


def _bound_person(
    store: IdentityStore,
    guard: Guard,
    roles: list[str],
    subject_id: str | None,
    org_path: str | None,
) -> Document | None:
    """The person a citizen login is for: registered, in the caller's reach, in the account's
    org unit, and without a login of their own."""
    if subject_id is None:
        if "citizen" in roles:
            raise InvalidInput("a citizen login names the person it is for", field="subject_id")
        return None
    if roles != ["citizen"]:
        raise InvalidInput("only a citizen login is bound to a person", field="subject_id")
    person = store.load_person(subject_id) if isinstance(subject_id, str) else None
    if person is None:
        raise NotFound("no such person", field="subject_id")
    guard.require(subject_resource(person), "no such person", field="subject_id")
    if org_path is not None and org_path != person["org_path"]:
        raise InvalidInput("the person's own org unit", field="org_path")
    if person.get("account_id"):
        raise Conflict("this person already has a login", field="subject_id")
    return person


def load(store: IdentityStore, account_id: Any) -> Document | None:
    return store.load_account(account_id) if isinstance(account_id, str) else None


def get_account(store: IdentityStore, guard: Guard, account_id: str) -> dict[str, Any]:
    account = load(store, account_id)
    if account is None:
        raise NotFound("no such account")
    guard.require(access.account(account), "no such account")
    return view(account)


def list_accounts(
    store: IdentityStore, guard: Guard, org_path: str | None, limit: int, offset: int
) -> dict[str, Any]:
    root = org_path or guard.actor.org_path
    guard.require(access.org_unit_or_root(root), "no such org unit", field="org_path")
    limit = max(1, min(int(limit), 200))
    offset = max(0, int(offset))
    found = store.accounts_within(root or "", offset, limit)
    return {"items": [view(a) for a in found], "limit": limit, "offset": offset}


STATUSES = frozenset({"active", "disabled"})


def set_status(
    store: IdentityStore, guard: Guard, now: datetime, account_id: str, status: str
) -> dict[str, Any]:
    """Disable or enable an account; a disabled account cannot log in, and the gateway ends
    its sessions. Nobody disables their own account (an administrator locking themself out)."""
    if status not in STATUSES:
        raise InvalidInput("active or disabled", field="status")
    account = load(store, account_id)
    if account is None:
        raise NotFound("no such account")
    guard.require(access.account(account), "no such account")
    if account["_id"] == guard.actor.account_id:
        raise Forbidden("you cannot change the status of your own account", code="own_account")
    require_over(guard.actor, account)
    changes = {
        "status": status,
        "status_changed_at": now,
        "status_changed_by": guard.actor.account_id,
    }
    store.update_account(account["_id"], changes)
    return view({**account, **changes})


def change_password(
    store: IdentityStore, guard: Guard, now: datetime, current: str, new: str
) -> dict[str, Any]:
    """One's own password, with the current one (a stolen session alone cannot take over
    the account)."""
    guard.done()
    account = load(store, guard.actor.account_id)
    if account is None or account["status"] != "active":
        raise Unauthenticated("invalid or expired access token")
    if not isinstance(current, str) or not tpool.execute(
        verify_password, current, account["password_hash"]
    ):
        raise Forbidden("the current password is not right", code="wrong_password", field="current")
    validate_password(new)
    if new == current:
        raise InvalidInput("the new password must differ from the current one", field="new")
    return _set_password(store, account, new, now, guard.actor.account_id)


def reset_password(
    store: IdentityStore, guard: Guard, now: datetime, account_id: str, new: str
) -> dict[str, Any]:
    account = load(store, account_id)
    if account is None:
        raise NotFound("no such account")
    guard.require(access.account(account), "no such account")
    if account["_id"] == guard.actor.account_id:
        # One's own password changes with the current one (POST /v1/me/password): a stolen
        # administrator session cannot take the account over, nor lock its owner out.
        raise Forbidden("change your own password with the current one", code="own_account")
    require_over(guard.actor, account)
    validate_password(new)
    return _set_password(store, account, new, now, guard.actor.account_id)


def _set_password(
    store: IdentityStore, account: Document, new: str, now: datetime, by: str | None
) -> dict[str, Any]:
    changes = {
        "password_hash": tpool.execute(hash_password, new),
        "password_changed_at": now,
        "password_changed_by": by,
        "password_generation": int(account.get("password_generation", 0)) + 1,  # no lock
    }
    store.update_account(account["_id"], changes)
    return view({**account, **changes})


def authenticate(
    store: IdentityStore,
    username: str,
    password: str,
    now: datetime,
    address: str | None = None,
    hide: Callable[[str], str] = lambda value: value,
) -> dict[str, Any]:
    """Check a password; the same answers for an unknown user and a wrong password.

    Failures are counted for the name from one address (five lock that pair) and for the
    name from everywhere (fifty lock the name), whether the name exists or not, so a lock
    says nothing about whether an account exists. A success from an address starts that
    address's count again, and no other's (an attacker's lock is not lifted by the owner's
    login, which would tell that the name is real). The name's lock does not stop an
    address the owner signed in from within ``KNOWN_FOR``: strangers cannot lock a person
    out of the places they use. A new password lifts every lock. ``hide`` is the keyed hash
    that keeps names and addresses out of the stored keys."""
    refused = Unauthenticated("invalid username or password")
    if not isinstance(username, str) or not isinstance(password, str) or len(password) > 128:
        raise refused
    name = username.lower()
    account = store.account_by_username(name)
    generation = int(account.get("password_generation", 0)) if account else 0
    pair = hide(name + "|" + (address or ""))
    seen = store.login_pair(pair)
    series = int(seen.get("series", 0))
    known = _aware(seen.get("known_until"), now) > now
    counters = [
        (f"{pair}:{series}:{generation}", MAX_FAILED_LOGINS),
        (f"{hide(name)}:{generation}", MAX_FAILED_PER_NAME),
    ]
    _refuse_if_locked(store, [key for key, _limit in counters[: 1 if known else 2]], now)
    if account is None:
        tpool.execute(verify_password, password, DUMMY_PASSWORD_HASH)
        record_failure(store, counters, now)
        raise refused
    if not tpool.execute(verify_password, password, account["password_hash"]):
        record_failure(store, counters, now)
        raise refused
    if account["status"] != "active":
        # Only to someone who knows the password: they learn why, and whom to ask.
        raise Forbidden(
            "this account is disabled; the office that manages it can enable it again",
            code="account_disabled",
        )
    # This address: a new series of failures, and known to the owner for a while.
    store.put_login_pair(pair, {"series": series + 1, "known_until": now + KNOWN_FOR})
    return claims(account)


def _aware(value: Any, now: datetime) -> datetime:
    if not isinstance(value, datetime):
        return datetime.min.replace(tzinfo=now.tzinfo)
    return value if value.tzinfo else value.replace(tzinfo=now.tzinfo)


def _refuse_if_locked(store: IdentityStore, keys: list[str], now: datetime) -> None:
    for key in keys:
        lock = store.login_lock(key)
        until = lock["until"] if lock else None
        if until is not None and until.tzinfo is None:
            until = until.replace(tzinfo=now.tzinfo)
        if until is not None and until > now:
            retry = int((until - now).total_seconds()) + 1
            raise RateLimited("too many failed logins; try again later", retry_after=retry)


def record_failure(store: IdentityStore, counters: list[tuple[str, int]], now: datetime) -> None:
    """Each failure is claimed as the n-th of its counter in the current window
    (common.claims): keyed by _id, so no scan and, unlike an $inc on FerretDB, no lost
    count. Reaching a counter's limit locks its key for LOCKOUT (a replace by _id: two
    racing lockers write the same lock)."""
    window = int(now.timestamp() // LOCKOUT.total_seconds())
    for key, limit in counters:
        if store.take_next(f"login-failures:{key}:{window}", 0, now) + 1 >= limit:
            store.lock_login(key, now + LOCKOUT)
