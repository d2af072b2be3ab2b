"""Policies as data (政策即数据): title, issuing department, category, subject type, effective
period, version, status (draft → published → suspended → retired), mode (apply / push /
confirm / auto), payout period, budget in fen, dated parameters, conditions and amount.

A policy is edited only as a draft; publishing freezes that version. A published policy that
needs a change becomes a new version (the old one retired), so every decision record names
the exact rules it applied."""

from __future__ import annotations

import re
import secrets
from datetime import date, datetime
from typing import Any

from pymongo.database import Database

from services.common.actor import Actor
from services.common.claims import advance
from services.common.codec import fen, to_wire
from services.common.errors import Conflict, Forbidden, InvalidInput, NotFound
from services.common.mongo import Document
from services.common.text import text
from services.policy import catalogue
from services.policy.amounts import validate_amount
from services.policy.rules import facts_read, validate_condition, validate_parameters

MODES = ("apply", "push", "confirm", "auto")
PERIODS = ("once", "monthly", "quarterly", "yearly")
SUBJECT_TYPES = ("person", "organisation")
TRANSITIONS = {
    "publish": ({"draft"}, "published"),
    "suspend": ({"published"}, "suspended"),
    "resume": ({"suspended"}, "published"),
    "retire": ({"draft", "published", "suspended"}, "retired"),
}
_CODE = re.compile(r"^[A-Za-z0-9_-]{2,40}$")


def _day(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    try:
        return date.fromisoformat(str(value)).isoformat()
    except ValueError as exc:
        raise InvalidInput("a date such as 2026-01-01", field=key) from exc


def validate_definition(body: dict[str, Any]) -> Document:
    """Everything a policy says, checked; a bad rule is refused naming its node."""
    if not isinstance(body, dict):
        raise InvalidInput("a policy object", field="policy")
    code = body.get("code")
    if not isinstance(code, str) or not _CODE.match(code):
        raise InvalidInput("2–40 letters, digits, _ or -", field="code")
    mode, period = body.get("mode", "apply"), body.get("payout_period", "once")
    if mode not in MODES:
        raise InvalidInput(f"one of {', '.join(MODES)}", field="mode")
    if period not in PERIODS:
        raise InvalidInput(f"one of {', '.join(PERIODS)}", field="payout_period")
    if body.get("subject_type") not in SUBJECT_TYPES:
        raise InvalidInput(f"one of {', '.join(SUBJECT_TYPES)}", field="subject_type")
    budget = None if body.get("budget") is None else fen(body["budget"], "budget")
    starts, ends = _day(body, "effective_from"), _day(body, "effective_until")
    if starts and ends and ends < starts:
        raise InvalidInput("must not be before effective_from", field="effective_until")
    parameters = validate_parameters(body.get("parameters"))
    validate_condition(body.get("conditions"), parameters)
    amount = body.get("amount")
    if mode in ("confirm", "auto") and amount is None:
        raise InvalidInput("a policy that pays needs an amount", field="amount")
    if amount is not None:
        validate_amount(amount, parameters)
    return {
        "code": code,
        "title": text(body.get("title"), "title", 200),
        "department": text(body.get("department"), "department", 100),
        "category": text(body.get("category"), "category", 50),
        "subject_type": body["subject_type"],
        "summary": text(body.get("summary"), "summary", 2000, required=False, multiline=True),
        "effective_from": starts,
        "effective_until": ends,
        "mode": mode,
        "payout_period": period,
        "budget": budget,
        "parameters": parameters,
        "conditions": body["conditions"],
        "amount": amount,
        "reads": sorted(facts_read(body["conditions"]) | facts_read(amount or {})),
    }


def view(policy: Document) -> dict[str, Any]:
    result: dict[str, Any] = to_wire(
        {"id": policy["_id"], **{k: v for k, v in policy.items() if k not in ("_id", "rev")}}
    )
    return result


def create_policy(
    db: Database[Document], actor: Actor, now: datetime, body: dict[str, Any]
) -> dict[str, Any]:
    actor.require_role("staff", "supervisor", "admin")
    definition = validate_definition(body)
    previous = [p for p in db.policies.find({"code": definition["code"]})]
    if any(p["status"] == "draft" for p in previous):
        raise Conflict("a draft of this policy exists; edit it", field="code")
    policy = {
        "_id": f"pol_{secrets.token_hex(6)}",
        **definition,
        "version": 1 + max((p["version"] for p in previous), default=0),
        "status": "draft",
        "org_path": actor.org_path,
        "created_at": now,
        "created_by": actor.account_id,
        "rev": 0,
    }
    db.policies.insert_one(policy)
    return view(policy)


def get(db: Database[Document], policy_id: str) -> Document:
    policy = db.policies.find_one({"_id": policy_id}) if isinstance(policy_id, str) else None
    if policy is None:
        raise NotFound("no such policy")
    return policy


def require_owner(actor: Actor, policy: Document) -> None:
    if not (actor.is_staff and (actor.is_admin or actor.reaches(policy.get("org_path")))):
        raise Forbidden("this policy belongs to another department")


def edit_policy(
    db: Database[Document], actor: Actor, now: datetime, policy_id: str, body: dict[str, Any]
) -> dict[str, Any]:
    policy = get(db, policy_id)
    require_owner(actor, policy)
    if policy["status"] != "draft":
        raise Conflict("only a draft is edited; create a new version", state=policy["status"])
    definition = validate_definition({**body, "code": policy["code"]})
    return view(advance(db, "policies", policy, {"$set": {**definition, "edited_at": now}}, now))


def change_status(
    db: Database[Document], actor: Actor, now: datetime, policy_id: str, action: str
) -> Document:
    if action not in TRANSITIONS:
        raise InvalidInput(f"one of {', '.join(TRANSITIONS)}", field="action")
    policy = get(db, policy_id)
    require_owner(actor, policy)
    allowed, to = TRANSITIONS[action]
    if policy["status"] not in allowed:
        raise Conflict(f"a {policy['status']} policy cannot {action}", state=policy["status"])
    if action == "publish":
        for other in db.policies.find({"code": policy["code"], "status": "published"}):
            advance(db, "policies", other, {"$set": {"status": "retired", "retired_at": now}}, now)
    changes: Document = {"status": to, f"{to}_at": now}
    moved = advance(db, "policies", policy, {"$set": changes}, now)
    catalogue.rebuild(db)
    return moved


def visible_to(actor: Actor, policy: Document) -> bool:
    """A draft is the authors' work in progress: staff see it, the public does not."""
    return policy["status"] != "draft" or actor.is_staff


def get_visible(db: Database[Document], actor: Actor, policy_id: str) -> Document:
    """The policy, or NotFound for a draft the actor may not see (as if it did not exist)."""
    policy = get(db, policy_id)
    if not visible_to(actor, policy):
        raise NotFound("no such policy")
    return policy


def list_policies(db: Database[Document], actor: Actor, status: str | None) -> list[dict[str, Any]]:
    query: Document = {"status": status} if status else {}
    found = db.policies.find(query).sort([("code", 1), ("version", 1)])
    return [view(p) for p in found if visible_to(actor, p)]


def in_force(policy: Document, on: date) -> bool:
    starts, ends = policy.get("effective_from"), policy.get("effective_until")
    return (starts is None or starts <= on.isoformat()) and (ends is None or on.isoformat() <= ends)
