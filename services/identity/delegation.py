"""Proxies and guardians (代办 / 监护人).

A person authorizes a proxy for some scopes and a period; staff appoint a guardian for a
minor or a person who cannot act alone. A proxy acts with their own login and an
``on_behalf_of`` subject; every such action is recorded with both identities, and the
represented person reads those records.
"""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime
from typing import Any

from services.common.access import Guard, Links
from services.common.actor import Actor
from services.common.codec import CITY_TIME, parse_time, to_wire
from services.common.document import Document
from services.common.errors import Conflict, Forbidden, InvalidInput, NotFound, RateLimited
from services.common.text import name as checked_name
from services.identity import access
from services.identity.pii import PiiKeys
from services.identity.store import IdentityStore
from services.identity.subjects import get_subject, load, operated_ids

SCOPES = frozenset({"show_code", "show_certificates", "confirm_payouts", "apply"})
PROXY_REQUESTS_PER_DAY = 10


def _scopes(value: Any) -> list[str]:
    if not isinstance(value, list) or not value or not set(value) <= SCOPES:
        raise InvalidInput(f"a non-empty list among {', '.join(sorted(SCOPES))}", field="scopes")
    return sorted(set(value))


def view(d: Document, names: dict[str, str]) -> dict[str, Any]:
    """A pending request shows the name the principal typed, never whom it matched."""
    pending = d["status"] == "pending"
    proxy = (
        {"id": None, "name": d.get("proxy_name")}
        if pending
        else {
            "id": d["proxy"],
            "name": names.get(d["proxy"]) if d["proxy"] else d.get("proxy_name"),
        }
    )
    return to_wire(
        {
            "id": d["_id"],
            "kind": d["kind"],
            "principal": {"id": d["principal"], "name": names.get(d["principal"])},
            "proxy": proxy,
            "scopes": d["scopes"],
            "valid_from": d["valid_from"],
            "valid_until": d["valid_until"],
            "status": d["status"],
            "reason": d.get("reason"),
            "created_at": d["created_at"],
        }
    )


def _names(store: IdentityStore, delegations: list[Document]) -> dict[str, str]:
    ids = {d["principal"] for d in delegations} | {d["proxy"] for d in delegations if d["proxy"]}
    return store.person_names(ids)


def authorize_proxy(
    store: IdentityStore,
    keys: PiiKeys,
    guard: Guard,
    now: datetime,
    proxy_id_number: str,
    proxy_name: str,
    scopes: list[str],
    valid_until: str,
) -> dict[str, Any]:
    """Ask someone to act for me. The answer is the same whether or not the number and name
    belong to a registered person (no name, no id comes back): the request waits for that
    person to accept it on their own page, and only then is it in force. A mistyped number
    or a stranger's never authorizes anyone. Requests are counted per person and day."""
    guard.done()
    principal = guard.actor.subject_id
    if not principal or not principal.startswith("p_"):
        raise Forbidden("only a person authorizes a proxy")
    until = parse_time(valid_until, field="valid_until")
    if until <= now:
        raise InvalidInput("must be in the future", field="valid_until")
    chosen = _scopes(scopes)
    typed_name = checked_name(proxy_name, field="proxy_name")
    if not isinstance(proxy_id_number, str) or not 15 <= len(proxy_id_number.strip()) <= 18:
        raise InvalidInput("an ID number of 18 characters", field="proxy_id_number")
    if store.take_next(f"proxy-requests:{principal}:{now.date().isoformat()}", 0, now) >= (
        PROXY_REQUESTS_PER_DAY
    ):
        raise RateLimited("too many proxy requests today; try again tomorrow", retry_after=3600)
    proxy = store.person_by_number(keys.lookup_hash(proxy_id_number))
    matched = proxy is not None and proxy["name"] == typed_name and proxy["_id"] != principal
    delegation = _record(
        store,
        "proxy",
        principal,
        proxy["_id"] if matched and proxy else None,
        chosen,
        now,
        until,
        guard.actor,
        None,
        status="pending",
        proxy_name=typed_name,
    )
    return view(delegation, _names(store, [delegation]))


def answer_request(
    store: IdentityStore, guard: Guard, now: datetime, delegation_id: str, accept: bool
) -> dict[str, Any]:
    """The person asked accepts (the delegation is then in force) or declines."""
    delegation = _load(store, delegation_id)
    guard.require(access.delegation(delegation, None), "no such delegation")
    if delegation["status"] != "pending":
        raise Conflict(f"this request is {delegation['status']}", state=delegation["status"])
    if delegation["valid_until"] is not None and _aware(delegation["valid_until"]) <= now:
        raise Conflict("this request has expired", state="expired")
    status = "active" if accept else "declined"
    updated = store.advance_delegation(
        delegation, {"$set": {"status": status, "answered_at": now, "valid_from": now}}, now
    )
    return view(updated, _names(store, [updated]))


def appoint_guardian(
    store: IdentityStore,
    guard: Guard,
    now: datetime,
    person_id: str,
    guardian_id: str,
    reason: str,
    scopes: list[str] | None = None,
    valid_until: str | None = None,
) -> dict[str, Any]:
    """Staff over the person appoint a guardian they can see (a person of their own
    jurisdiction: a guardian elsewhere is appointed by that area's staff, or asks as a proxy);
    a guardian they cannot see is answered exactly as one that does not exist."""
    principal = get_subject(store, guard, person_id, "person")
    if not principal["_id"].startswith("p_"):
        raise NotFound("no such person")
    guardian = load(store, guardian_id)
    if (
        guardian is None
        or not guardian["_id"].startswith("p_")
        or guardian["_id"] == principal["_id"]
        or not guard.allows(access.subject(guardian))
    ):
        raise NotFound("no such person", field="guardian_id")
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidInput("a reason is required (minor, court order …)", field="reason")
    until = parse_time(valid_until, field="valid_until") if valid_until else None
    if until is not None and until <= now:
        raise InvalidInput("must be in the future", field="valid_until")
    _one_guardianship(store, now, principal["_id"], guardian["_id"])
    if until is None:  # a minor's guardianship ends when the minor comes of age
        comes_of_age = majority(principal)
        until = comes_of_age if comes_of_age is not None and comes_of_age > now else None
    delegation = _record(
        store,
        "guardian",
        principal["_id"],
        guardian["_id"],
        _scopes(scopes or sorted(SCOPES)),
        now,
        until,
        guard.actor,
        reason.strip(),
    )
    return view(delegation, _names(store, [delegation]))


def _one_guardianship(store: IdentityStore, now: datetime, ward: str, guardian: str) -> None:
    """At most one guardianship in force per ward and guardian (a second would outlive the
    first being ended): refused 409 while one is; two clerks at once, one wins (the n-th
    guardianship of the pair is a claim)."""
    pairs = store.guardianships(ward, guardian)
    if any(in_force(d, now) or d["status"] == "pending" for d in pairs):
        raise Conflict(
            "this person is already the guardian; end that one first", code="already_guardian"
        )
    if not store.claim(f"guardianship:{ward}:{guardian}:{len(pairs)}", now):
        raise Conflict("this guardian was appointed at the same time", code="already_guardian")


def majority(person: Document) -> datetime | None:
    """When a minor comes of age (18, at midnight in Beijing on the birthday): a guardianship
    of a minor ends then unless staff renew it with a later end (成年监护 by a court order).
    None for a person without a known birth date."""
    born = person.get("birth_date")
    if not born:
        return None
    birth = date.fromisoformat(str(born))
    day = (
        birth.replace(year=birth.year + 18)
        if (birth.month, birth.day) != (2, 29)
        else (date(birth.year + 18, 3, 1))
    )
    return datetime(day.year, day.month, day.day, tzinfo=CITY_TIME).astimezone(UTC)


def _record(
    store: IdentityStore,
    kind: str,
    principal: str,
    proxy: str | None,
    scopes: list[str],
    now: datetime,
    until: datetime | None,
    actor: Actor,
    reason: str | None,
    status: str = "active",
    proxy_name: str | None = None,
) -> Document:
    delegation = {
        "_id": "dlg_" + secrets.token_hex(8),
        "kind": kind,
        "principal": principal,
        "proxy": proxy,
        "proxy_name": proxy_name,
        "scopes": scopes,
        "valid_from": now,
        "valid_until": until,
        "status": status,
        "reason": reason,
        "created_at": now,
        "created_by": actor.account_id,
        "rev": 0,
    }
    store.insert_delegation(delegation)
    return delegation


def _load(store: IdentityStore, delegation_id: Any) -> Document:
    found = store.load_delegation(delegation_id) if isinstance(delegation_id, str) else None
    if found is None:
        raise NotFound("no such delegation")
    return found


def revoke(
    store: IdentityStore,
    guard: Guard,
    now: datetime,
    delegation_id: str,
    guardianship_of: str | None = None,
) -> dict[str, Any]:
    """End a proxy or a guardianship (``guardianship_of``: only a guardianship of that person,
    as staff name it from the person's record)."""
    delegation = _load(store, delegation_id)
    if guardianship_of is not None and (
        delegation["kind"] != "guardian" or delegation["principal"] != guardianship_of
    ):
        raise NotFound("no such delegation")
    principal = load(store, delegation["principal"])
    guard.require(
        access.delegation(delegation, principal["org_path"] if principal else None),
        "no such delegation",
    )
    if delegation["status"] in ("active", "pending"):
        store.advance_delegation(
            delegation,
            {
                "$set": {
                    "status": "revoked",
                    "revoked_at": now,
                    "revoked_by": guard.actor.account_id,
                }
            },
            now,
        )
    updated = _load(store, delegation_id)
    return view(updated, _names(store, [updated]))


def list_mine(store: IdentityStore, guard: Guard) -> dict[str, Any]:
    guard.done()
    sub = guard.actor.subject_id
    if not sub:
        return {"acting_for_me": [], "i_act_for": []}
    found = store.delegations_of(sub)
    names = _names(store, found)
    return {
        "acting_for_me": [view(d, names) for d in found if d["principal"] == sub],
        "i_act_for": [view(d, names) for d in found if d["proxy"] == sub],
    }


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def in_force(delegation: Document, now: datetime) -> bool:
    until = delegation.get("valid_until")
    return delegation["status"] == "active" and (until is None or _aware(until) > now)


def links_of(store: IdentityStore, actor: Actor, now: datetime) -> Links:
    """What the caller holds through others now: the organisations the account operates and,
    per person who delegated to the caller, the union of the scopes of every delegation in
    force (a renewed proxy after an expired one counts; a revoked or expired one does not)."""
    delegated: dict[str, frozenset[str]] = {}
    if actor.subject_id:
        for found in store.delegations_to(actor.subject_id):
            if in_force(found, now):
                held = delegated.get(found["principal"], frozenset())
                delegated[found["principal"]] = held | frozenset(found["scopes"])
    return Links(
        operated=frozenset(operated_ids(store, actor.account_id, actor.subject_id)),
        delegated=delegated,
    )


def record_proxy_action(
    store: IdentityStore,
    principal: str,
    proxy: str,
    action: str,
    now: datetime,
    actor: Actor,
    detail: dict[str, Any] | None = None,
) -> None:
    store.record_proxy_action(
        {
            "_id": "pa_" + secrets.token_hex(8),
            "principal": principal,
            "proxy": proxy,
            "proxy_account": actor.account_id,
            "action": action,
            "at": now,
            "detail": detail or {},
        }
    )


def record_reported_act(store: IdentityStore, act: dict[str, Any]) -> None:
    """A ``proxy_acted`` event from another service, kept once by its event id."""
    at = act.get("at")
    document = {
        "_id": "pa_" + str(act["event_id"]),
        "principal": act["principal"],
        "proxy": act["proxy"],
        "proxy_account": act.get("proxy_account"),
        "action": act["action"],
        "at": parse_time(at) if isinstance(at, str) else at,
        "detail": act.get("detail") or {},
    }
    store.record_proxy_action(document)


PARTNER_NAMES = {"sms_partner": "短信服务商"}


def activity(store: IdentityStore, guard: Guard, limit: int) -> list[dict[str, Any]]:
    """What was done in my name: proxy actions and disclosures of my data, newest first."""
    guard.done()
    actor = guard.actor
    if not actor.subject_id:
        return []
    actions = store.proxy_actions("principal", actor.subject_id, limit)
    # And what I did for others, so that a proxy can follow what they filed.
    mine = store.proxy_actions("proxy", actor.subject_id, limit)
    people = {a["proxy"] for a in actions} | {a["principal"] for a in mine}
    names = store.person_names(people)
    done = [
        {
            "action": a["action"],
            "at": a["at"],
            "by": {"id": a["proxy"], "name": names.get(a["proxy"])},
            "detail": a["detail"],
        }
        for a in actions
    ] + [
        {
            "action": a["action"],
            "at": a["at"],
            "by": {"id": a["proxy"], "name": "您"},
            "for": {"id": a["principal"], "name": names.get(a["principal"])},
            "detail": a["detail"],
        }
        for a in mine
    ]
    found = store.disclosures_of(actor.subject_id, limit)
    units = store.org_unit_names(d["to"][5:] for d in found if d["to"].startswith("unit:"))

    def who(to: str) -> str:
        if to.startswith("unit:"):
            return str(units.get(to[5:], "工作人员"))
        return PARTNER_NAMES.get(to, to)

    disclosed = [
        {
            "action": "disclosed",
            "at": d["at"],
            "by": {"id": d["to"], "name": who(d["to"])},
            "detail": {"fields": d["fields"], "purpose": d["purpose"], **d["detail"]},
        }
        for d in found
    ]
    newest = sorted(done + disclosed, key=lambda item: item["at"], reverse=True)[:limit]
    return [to_wire(item) for item in newest]
