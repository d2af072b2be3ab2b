"""Accounts: who can log in, with which roles, in which org unit.

Passwords are hashed with scrypt and checked in eventlet's thread pool (so a burst of logins
does not stall the service's other calls); five failures lock the account for 15 minutes.
Staff and supervisors act only on their own org unit's subtree.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta
from typing import Any

from eventlet import tpool
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from services.common.actor import ROLES, Actor, ancestors
from services.common.claims import take_next
from services.common.codec import to_wire
from services.common.crypto import DUMMY_PASSWORD_HASH, hash_password, verify_password
from services.common.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    RateLimited,
    Unauthenticated,
)
from services.common.mongo import Document
from services.identity.orgunits import require_unit

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{2,63}$")

# Which roles each role may grant when it creates an account.
GRANTABLE: dict[str, frozenset[str]] = {
    "admin": ROLES,
    "supervisor": frozenset({"staff", "citizen", "enterprise", "verifier"}),
    "staff": frozenset({"citizen", "enterprise", "verifier"}),
}
ORG_BOUND_ROLES = frozenset({"staff", "supervisor", "verifier"})
VERIFIER_SCENES = frozenset(
    {"metro", "bus", "hospital", "hotel", "gov_counter", "library", "scenic_spot"}
)


def new_account_id() -> str:
    return "acc_" + secrets.token_hex(8)


def validate_password(password: Any) -> str:
    if not isinstance(password, str) or not 8 <= len(password) <= 128:
        raise InvalidInput("a password of 8–128 characters is required", field="password")
    return password


def validate_roles(actor: Actor, roles: Any) -> list[str]:
    if not isinstance(roles, list) or not roles or not all(isinstance(r, str) for r in roles):
        raise InvalidInput("a non-empty list of roles is required", field="roles")
    unknown = set(roles) - ROLES
    if unknown:
        raise InvalidInput(f"unknown roles: {', '.join(sorted(unknown))}", field="roles")
    grantable: set[str] = set()
    for role in actor.roles:
        grantable |= GRANTABLE.get(role, frozenset())
    if not set(roles) <= grantable:
        raise Forbidden("you may not grant these roles")
    return sorted(set(roles))


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
        "name": account.get("display_name"),
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
        "locked_until": None,
        "failure_series": 0,
        "failed_since_success": False,
        "created_at": now,
        "created_by": created_by,
    }


def create_account(
    db: Database[Document],
    actor: Actor,
    now: datetime,
    username: str,
    password: str,
    roles: list[str],
    org_path: str | None = None,
    display_name: str | None = None,
    subject_id: str | None = None,
    scenes: list[str] | None = None,
) -> dict[str, Any]:
    if not isinstance(username, str) or not USERNAME.match(username):
        raise InvalidInput("3–64 letters, digits or . _ @ -", field="username")
    validate_password(password)
    granted = validate_roles(actor, roles)
    if org_path is None:
        if set(granted) & ORG_BOUND_ROLES or not actor.is_admin:
            raise InvalidInput("an org unit is required for this account", field="org_path")
    else:
        if not actor.reaches(org_path):
            raise NotFound("no such org unit", field="org_path")
        require_unit(db, org_path, "org_path")
    scenes = scenes or []
    if not set(scenes) <= VERIFIER_SCENES:
        raise InvalidInput(f"scenes are among {', '.join(sorted(VERIFIER_SCENES))}", field="scenes")
    if scenes and "verifier" not in granted:
        raise InvalidInput("only verifier accounts have scenes", field="scenes")
    account = build_account(
        username,
        password,
        granted,
        org_path,
        display_name,
        subject_id,
        scenes,
        now,
        actor.account_id,
    )
    try:
        db.accounts.insert_one(account)
    except DuplicateKeyError as exc:
        raise Conflict("this username is taken", field="username") from exc
    return view(account)


def ensure_account(db: Database[Document], account: Document) -> bool:
    """Insert ``account`` unless its username exists (used for the first admin). True if new."""
    result = db.accounts.update_one(
        {"username": account["username"]}, {"$setOnInsert": account}, upsert=True
    )
    return result.upserted_id is not None


def get_account(db: Database[Document], actor: Actor, account_id: str) -> dict[str, Any]:
    account = db.accounts.find_one({"_id": account_id})
    if account is None or not _may_read(actor, account):
        # Same answer whether it does not exist or lies outside the caller's jurisdiction.
        raise NotFound("no such account")
    return view(account)


def _may_read(actor: Actor, account: Document) -> bool:
    if actor.account_id == account["_id"]:
        return True
    return actor.is_staff and actor.reaches(account.get("org_path"))


def list_accounts(
    db: Database[Document], actor: Actor, org_path: str | None, limit: int, offset: int
) -> dict[str, Any]:
    actor.require_role("staff", "supervisor", "admin")
    root = org_path or actor.org_path
    if root is not None and not actor.reaches(root):
        raise NotFound("no such org unit", field="org_path")
    query: Document = {"org_ancestors": root} if root else {}
    limit = max(1, min(int(limit), 200))
    offset = max(0, int(offset))
    cursor = db.accounts.find(query).sort("_id", 1).skip(offset).limit(limit)
    return {"items": [view(a) for a in cursor], "limit": limit, "offset": offset}


def authenticate(
    db: Database[Document], username: str, password: str, now: datetime
) -> dict[str, Any]:
    """Check a password; the same answer for an unknown user and a wrong password."""
    refused = Unauthenticated("invalid username or password")
    if not isinstance(username, str) or not isinstance(password, str) or len(password) > 128:
        raise refused
    account = db.accounts.find_one({"username": username.lower()})
    if account is None:
        tpool.execute(verify_password, password, DUMMY_PASSWORD_HASH)
        raise refused
    locked_until = account.get("locked_until")
    if locked_until is not None and locked_until > now:
        retry = int((locked_until - now).total_seconds()) + 1
        raise RateLimited("too many failed logins; try again later", retry_after=retry)
    if not tpool.execute(verify_password, password, account["password_hash"]):
        record_failure(db, account, now)
        raise refused
    if account["status"] != "active":
        raise refused
    if account.get("failed_since_success"):  # start a new series of failures
        db.accounts.update_one(
            {"_id": account["_id"]},
            {"$inc": {"failure_series": 1}, "$set": {"failed_since_success": False}},
        )
    return claims(account)


def record_failure(db: Database[Document], account: Document, now: datetime) -> None:
    """Failures are counted by claiming the n-th failure of the account in the current
    window (common.claims): keyed by _id, so no scan and, unlike an $inc on FerretDB, no
    lost count. The fifth in a window locks the account; a success starts a new series."""
    window = int(now.timestamp() // LOCKOUT.total_seconds())
    series = f"login-failures:{account['_id']}:{account.get('failure_series', 0)}:{window}"
    if take_next(db, series, 0, now) + 1 >= MAX_FAILED_LOGINS:
        db.accounts.update_one({"_id": account["_id"]}, {"$set": {"locked_until": now + LOCKOUT}})
    else:
        db.accounts.update_one({"_id": account["_id"]}, {"$set": {"failed_since_success": True}})
