"""Policies as data (政策即数据): title, issuing department, category, subject type, effective
period, version, status (draft → published → suspended → retired), mode (apply / push /
confirm / auto), payout period, budget in fen, dated parameters, conditions and amount.

A policy is edited only as a draft; publishing freezes that version. A published policy that
needs a change becomes a new version (the old one retired), so every decision record names
the exact rules it applied."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, date, datetime
from typing import Any

from services.common.codec import CITY_TIME, fen, to_wire
from services.common.document import Document
from services.common.errors import Conflict, InvalidInput, NotFound
from services.common.text import text
from services.policy import access, catalogue, fact_kinds
from services.policy.amounts import validate_amount
from services.policy.rules import facts_read, validate_condition, validate_parameters
from services.policy.store import PolicyStore
from services.policy.work import Work

MODES = ("apply", "push", "confirm", "auto")
PERIODS = ("once", "monthly", "quarterly", "yearly")
SUBJECT_TYPES = ("person", "organisation")
TRANSITIONS = {
    "publish": ({"draft"}, "published"),
    "suspend": ({"published"}, "suspended"),
    "resume": ({"suspended"}, "published"),
    "retire": ({"draft", "published", "suspended"}, "retired"),
}
_CODE = re.compile(r"[A-Za-z0-9_-]{2,40}")
_UNIT = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,31}(/[A-Za-z0-9][A-Za-z0-9-]{0,31}){0,7}")


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
    if not isinstance(code, str) or not _CODE.fullmatch(code):
        raise InvalidInput("2–40 letters, digits, _ or -", field="code")
    code = code.lower()  # one code, however typed: no lookalike of another unit's policy
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
        "responsible_unit": _unit(body.get("responsible_unit"), "responsible_unit"),
    }


def _unit(value: Any, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _UNIT.fullmatch(value):
        raise InvalidInput("an org unit path such as CN-LN-SY/HP/MZ", field=field)
    return value


def check_responsible_unit(definition: Document, owner: str | None) -> None:
    """The department that administers a policy (told of who is eligible but not receiving)
    lies in the owner's own district (city/district, the first two levels of the path): a
    street's policy may name its district's civil-affairs bureau, a district's a unit of its
    own; nobody fills another district's queue."""
    unit = definition.get("responsible_unit")
    if unit is None or owner is None:
        return
    district = "/".join(owner.split("/")[:2])
    if unit != district and not unit.startswith(district + "/"):
        raise InvalidInput("a unit of the policy's own district", field="responsible_unit")


def view(policy: Document) -> dict[str, Any]:
    result: dict[str, Any] = to_wire(
        {"id": policy["_id"], **{k: v for k, v in policy.items() if k not in ("_id", "rev")}}
    )
    return result


def create_policy(work: Work, body: dict[str, Any]) -> dict[str, Any]:
    """A draft owned by the author's unit. A policy code belongs to the unit that first used
    it: another unit cannot publish under it (and so retire that unit's policy); the owner or
    a unit above it adds versions."""
    store, guard, now = work.store, work.guard, work.now
    actor = guard.actor
    definition = validate_definition(body)
    owner = _code_owner(store, definition["code"], actor.org_path, now)
    if not guard.allows(access.policy({"org_path": owner, "status": "draft"})):
        raise Conflict("this policy code belongs to another unit", field="code")
    check_responsible_unit(definition, owner)
    fact_kinds.require_declared(store, definition)
    previous = store.versions_of(definition["code"])
    if any(p["status"] == "draft" for p in previous):
        raise Conflict("a draft of this policy exists; edit it", field="code")
    policy = {
        "_id": f"pol_{secrets.token_hex(6)}",
        **definition,
        "version": 1 + max((p["version"] for p in previous), default=0),
        "status": "draft",
        "org_path": owner,
        "created_at": now,
        "created_by": actor.account_id,
        "rev": 0,
    }
    if not store.insert_policy(policy):  # another draft of the code at the same moment
        raise Conflict("a draft of this policy exists; edit it", field="code")
    return view(policy)


def get(store: PolicyStore, policy_id: str) -> Document:
    policy = store.load_policy(policy_id) if isinstance(policy_id, str) else None
    if policy is None:
        raise NotFound("no such policy")
    return policy


def _code_owner(store: PolicyStore, code: str, unit: str | None, now: datetime) -> str | None:
    """The unit that owns ``code``: claimed by the first unit to use it (a unique key, so two
    units at once cannot both take it); policies from before codes were claimed name theirs."""
    key = f"policy-code:{code}"
    if store.claim(key, now, owner=unit):
        # Codes were stored as typed before they were one code in lower case: the earliest
        # policy under any spelling of it names the owner.
        found_earlier = store.versions_spelled(code, {"org_path": 1, "created_at": 1})
        earlier = min(found_earlier, key=lambda p: str(p.get("created_at") or ""), default=None)
        if earlier is None:
            return unit
        store.repoint_claim(key, owner=earlier.get("org_path"))
        owner: str | None = earlier.get("org_path")
        return owner
    found = store.claimed(key) or {}
    claimed: str | None = found.get("owner")
    return claimed


def get_guarded(work: Work, policy_id: str) -> Document:
    """The policy, if the operation's rule allows it: a draft exists only for its owner."""
    policy = get(work.store, policy_id)
    work.guard.require(access.policy(policy), "no such policy")
    return policy


def get_policy(work: Work, policy_id: str) -> dict[str, Any]:
    return view(get_guarded(work, policy_id))


def edit_policy(work: Work, policy_id: str, body: dict[str, Any]) -> dict[str, Any]:
    store, now = work.store, work.now
    policy = get_guarded(work, policy_id)
    if policy["status"] != "draft":
        raise Conflict("only a draft is edited; create a new version", state=policy["status"])
    definition = validate_definition({**body, "code": policy["code"]})
    check_responsible_unit(definition, policy.get("org_path"))
    fact_kinds.require_declared(store, definition)
    edited = store.advance_policy(policy, {"$set": {**definition, "edited_at": now}}, now)
    return view(edited)


def change_status(work: Work, policy_id: str, action: str) -> Document:
    if action not in TRANSITIONS:
        raise InvalidInput(f"one of {', '.join(TRANSITIONS)}", field="action")
    store, now = work.store, work.now
    policy = get_guarded(work, policy_id)
    allowed, to = TRANSITIONS[action]
    if policy["status"] not in allowed:
        raise Conflict(f"a {policy['status']} policy cannot {action}", state=policy["status"])
    if action == "publish":
        # A new version retires the owner's earlier one (the code is the owner's alone).
        for other in store.versions_of(policy["code"], ("published",)):
            if other.get("org_path") == policy.get("org_path"):
                retired = {"$set": {"status": "retired", "retired_at": now}}
                store.advance_policy(other, retired, now)
    # Resuming keeps the day it was first published (the version in force for a period is
    # read from it); the resumption has its own date.
    changes: Document = {"status": to, ("resumed_at" if action == "resume" else f"{to}_at"): now}
    moved = store.advance_policy(policy, {"$set": changes}, now)
    catalogue.rebuild(store)
    return moved


def list_policies(work: Work, status: str | None) -> list[dict[str, Any]]:
    return [view(p) for p in work.guard.filter(work.store.policies(status), access.policy)]


def in_force(policy: Document, on: date) -> bool:
    starts, ends = policy.get("effective_from"), policy.get("effective_until")
    return (starts is None or starts <= on.isoformat()) and (ends is None or on.isoformat() <= ends)


def version_at(store: PolicyStore, current: Document, at: datetime) -> Document:
    """The version of ``current``'s policy whose rules were in force at ``at``: of those
    published by then (retired since, or still in force), the latest whose effective dates
    hold ``at`` (a version published ahead of its effective date does not yet govern), else
    the latest. A policy that pays back for a period from before its first version pays it
    by ``current``'s rules."""
    versions = store.versions_of(current["code"], ("published", "retired"))
    earlier = [
        v
        for v in versions
        if v.get("org_path") == current.get("org_path")
        and v.get("published_at") is not None
        and _aware(v["published_at"]) <= at
        and int(v["version"]) <= int(current["version"])
    ]
    day = at.astimezone(CITY_TIME).date()
    governing = [v for v in earlier if in_force(v, day)] or earlier
    return max(governing, key=lambda v: int(v["version"]), default=current)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
