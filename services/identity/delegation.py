"""Proxies and guardians (代办 / 监护人).

A person authorizes a proxy for some scopes and a period; staff appoint a guardian for a
minor or a person who cannot act alone. A proxy acts with their own login and an
``on_behalf_of`` subject; every such action is recorded with both identities, and the
represented person reads those records.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from pymongo.database import Database

from services.common.actor import Actor
from services.common.codec import parse_time, to_wire
from services.common.errors import Forbidden, InvalidInput, NotFound
from services.common.mongo import Document
from services.identity.pii import PiiKeys
from services.identity.subjects import get_subject_in_jurisdiction

SCOPES = frozenset({"show_code", "show_certificates", "confirm_payouts", "apply"})


def _scopes(value: Any) -> list[str]:
    if not isinstance(value, list) or not value or not set(value) <= SCOPES:
        raise InvalidInput(f"a non-empty list among {', '.join(sorted(SCOPES))}", field="scopes")
    return sorted(set(value))


def view(d: Document, names: dict[str, str]) -> dict[str, Any]:
    return to_wire(
        {
            "id": d["_id"],
            "kind": d["kind"],
            "principal": {"id": d["principal"], "name": names.get(d["principal"])},
            "proxy": {"id": d["proxy"], "name": names.get(d["proxy"])},
            "scopes": d["scopes"],
            "valid_from": d["valid_from"],
            "valid_until": d["valid_until"],
            "status": d["status"],
            "reason": d.get("reason"),
            "created_at": d["created_at"],
        }
    )


def _names(db: Database[Document], delegations: list[Document]) -> dict[str, str]:
    ids = {d["principal"] for d in delegations} | {d["proxy"] for d in delegations}
    return {p["_id"]: p["name"] for p in db.persons.find({"_id": {"$in": list(ids)}}, {"name": 1})}


def authorize_proxy(
    db: Database[Document],
    keys: PiiKeys,
    actor: Actor,
    now: datetime,
    proxy_id_number: str,
    proxy_name: str,
    scopes: list[str],
    valid_until: str,
) -> dict[str, Any]:
    principal = actor.subject_id
    if not principal or not principal.startswith("p_"):
        raise Forbidden("only a person authorizes a proxy")
    until = parse_time(valid_until, field="valid_until")
    if until <= now:
        raise InvalidInput("must be in the future", field="valid_until")
    proxy = db.persons.find_one({"id_number.hash": keys.lookup_hash(str(proxy_id_number))})
    # The name must match too: a mistyped number never silently authorizes a stranger.
    if proxy is None or proxy["name"] != str(proxy_name).strip():
        raise NotFound("no registered person with this ID number and name", field="proxy_id_number")
    if proxy["_id"] == principal:
        raise InvalidInput("you cannot be your own proxy", field="proxy_id_number")
    return _create(db, "proxy", principal, proxy["_id"], _scopes(scopes), now, until, actor, None)


def appoint_guardian(
    db: Database[Document],
    actor: Actor,
    now: datetime,
    person_id: str,
    guardian_id: str,
    reason: str,
    scopes: list[str] | None = None,
    valid_until: str | None = None,
) -> dict[str, Any]:
    principal = get_subject_in_jurisdiction(db, actor, person_id)
    guardian = db.persons.find_one({"_id": guardian_id})
    if guardian is None or guardian_id == principal["_id"]:
        raise NotFound("no such person", field="guardian_id")
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidInput("a reason is required (minor, court order …)", field="reason")
    until = parse_time(valid_until, field="valid_until") if valid_until else None
    return _create(
        db,
        "guardian",
        principal["_id"],
        guardian_id,
        _scopes(scopes or sorted(SCOPES)),
        now,
        until,
        actor,
        reason.strip(),
    )


def _create(
    db: Database[Document],
    kind: str,
    principal: str,
    proxy: str,
    scopes: list[str],
    now: datetime,
    until: datetime | None,
    actor: Actor,
    reason: str | None,
) -> dict[str, Any]:
    delegation = {
        "_id": "dlg_" + secrets.token_hex(8),
        "kind": kind,
        "principal": principal,
        "proxy": proxy,
        "scopes": scopes,
        "valid_from": now,
        "valid_until": until,
        "status": "active",
        "reason": reason,
        "created_at": now,
        "created_by": actor.account_id,
    }
    db.delegations.insert_one(delegation)
    return view(delegation, _names(db, [delegation]))


def revoke(
    db: Database[Document], actor: Actor, now: datetime, delegation_id: str
) -> dict[str, Any]:
    delegation = db.delegations.find_one({"_id": delegation_id})
    if delegation is None:
        raise NotFound("no such delegation")
    mine = actor.subject_id in (delegation["principal"], delegation["proxy"])
    if not mine:
        get_subject_in_jurisdiction(db, actor, delegation["principal"])  # staff over the principal
    if (
        delegation["kind"] == "guardian"
        and not actor.is_staff
        and actor.subject_id != delegation["proxy"]
    ):
        raise Forbidden("a guardianship is ended by staff or by the guardian")
    db.delegations.update_one(
        {"_id": delegation_id, "status": "active"},
        {"$set": {"status": "revoked", "revoked_at": now, "revoked_by": actor.account_id}},
    )
    updated = db.delegations.find_one({"_id": delegation_id})
    assert updated is not None
    return view(updated, _names(db, [updated]))


def list_mine(db: Database[Document], actor: Actor) -> dict[str, Any]:
    sub = actor.subject_id
    if not sub:
        return {"acting_for_me": [], "i_act_for": []}
    found = list(
        db.delegations.find({"$or": [{"principal": sub}, {"proxy": sub}]}).sort("created_at", -1)
    )
    names = _names(db, found)
    return {
        "acting_for_me": [view(d, names) for d in found if d["principal"] == sub],
        "i_act_for": [view(d, names) for d in found if d["proxy"] == sub],
    }


def acting_subject(
    db: Database[Document], actor: Actor, scope: str, now: datetime
) -> tuple[str, str | None]:
    """The subject an action is for, and the proxy acting (or None when acting for oneself)."""
    if not actor.on_behalf_of or actor.on_behalf_of == actor.subject_id:
        if not actor.subject_id:
            raise Forbidden("this account does not represent a person or an organisation")
        return actor.subject_id, None
    if not actor.subject_id:
        raise Forbidden("only a person can act for someone else")
    delegation = db.delegations.find_one(
        {
            "principal": actor.on_behalf_of,
            "proxy": actor.subject_id,
            "status": "active",
            "scopes": scope,
        }
    )
    if delegation is None or (
        delegation["valid_until"] is not None and delegation["valid_until"] <= now
    ):
        raise Forbidden(f"you are not authorized to {scope} for this person", code="not_delegated")
    return actor.on_behalf_of, actor.subject_id


def principals(db: Database[Document], actor: Actor, scope: str, now: datetime) -> list[str]:
    """The people who let the caller act for them in ``scope``, now."""
    if not actor.subject_id:
        return []
    found = db.delegations.find({"proxy": actor.subject_id, "status": "active", "scopes": scope})
    return [d["principal"] for d in found if d["valid_until"] is None or d["valid_until"] > now]


def record_proxy_action(
    db: Database[Document],
    principal: str,
    proxy: str,
    action: str,
    now: datetime,
    actor: Actor,
    detail: dict[str, Any] | None = None,
) -> None:
    db.proxy_actions.insert_one(
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


PARTNER_NAMES = {"sms_partner": "短信服务商"}


def activity(db: Database[Document], actor: Actor, limit: int) -> list[dict[str, Any]]:
    """What was done in my name: proxy actions and disclosures of my data, newest first."""
    if not actor.subject_id:
        return []
    actions = list(
        db.proxy_actions.find({"principal": actor.subject_id}).sort("at", -1).limit(limit)
    )
    names = {
        p["_id"]: p["name"]
        for p in db.persons.find({"_id": {"$in": [a["proxy"] for a in actions]}}, {"name": 1})
    }
    done = [
        {
            "action": a["action"],
            "at": a["at"],
            "by": {"id": a["proxy"], "name": names.get(a["proxy"])},
            "detail": a["detail"],
        }
        for a in actions
    ]
    disclosed = [
        {
            "action": "disclosed",
            "at": d["at"],
            "by": {"id": d["to"], "name": PARTNER_NAMES.get(d["to"], d["to"])},
            "detail": {"fields": d["fields"], "purpose": d["purpose"], **d["detail"]},
        }
        for d in db.disclosures.find({"principal": actor.subject_id}).sort("at", -1).limit(limit)
    ]
    newest = sorted(done + disclosed, key=lambda item: item["at"], reverse=True)[:limit]
    return [to_wire(item) for item in newest]
