"""Routing rules (自动派单): (source, category, matter, jurisdiction) → receiving unit, for
tasks that arrive without one. Every field a rule names must match (the jurisdiction as a
subtree); the rule naming more fields, then the deeper jurisdiction, wins. A task no rule
matches waits in its dispatcher's queue.

A rule belongs to the unit that made it (``owner``; an administrator's rule, to the city) and
applies only to tasks whose place (jurisdiction, else dispatcher) lies inside the owner's
subtree, sending them to a unit inside it: a district's rule never pulls another district's
tasks in. Only the owner or a unit above it removes it."""

from __future__ import annotations

import secrets
from typing import Any

from services.common.actor import within
from services.common.codec import to_wire
from services.common.document import Document
from services.common.errors import Conflict, InvalidInput, NotFound
from services.tasks import access
from services.tasks.store import TaskStore
from services.tasks.work import Work

FIELDS = ("source", "category", "matter", "jurisdiction")


def add_rule(work: Work, match: dict[str, Any], unit: str) -> dict[str, Any]:
    guard = work.guard
    if not isinstance(match, dict):
        raise InvalidInput("an object of source, category, matter, jurisdiction", field="match")
    unknown = set(match) - set(FIELDS)
    if unknown:
        raise InvalidInput(f"unknown match fields: {', '.join(sorted(unknown))}", field="match")
    if not all(isinstance(v, str) and v for v in match.values()):
        raise InvalidInput("each match value is a non-empty string", field="match")
    if not isinstance(unit, str) or not unit:
        raise InvalidInput("the receiving unit's path", field="unit")
    owner = guard.actor.org_path
    guard.require(access.org_unit(unit), "no such org unit", field="unit")
    place = match.get("jurisdiction")
    if place is not None and not guard.within_reach(place):
        raise NotFound("no such org unit", field="match.jurisdiction")
    if not work.unit_exists(unit):
        raise NotFound("no such org unit", field="unit")
    rule = {
        "_id": "rr_" + secrets.token_hex(6),
        "match": match,
        "unit": unit,
        "owner": owner,
        "at": work.now,
        "by": guard.actor.account_id,
    }
    if not work.store.insert_routing_rule(rule):
        raise Conflict("a routing rule of this id exists", field="id")
    return view(rule)


def view(rule: Document) -> dict[str, Any]:
    return to_wire(
        {
            "id": rule["_id"],
            "match": rule["match"],
            "unit": rule["unit"],
            "owner": rule.get("owner"),
        }
    )


def _resource(rule: Document) -> Any:
    return access.owned_rule("routing_rule", rule.get("owner"))


def list_rules(work: Work) -> list[dict[str, Any]]:
    """The rules that apply in the caller's jurisdiction: their own unit's and those below it,
    the units' above it, and the city's."""
    found = work.store.routing_rules()
    return [view(r) for r in work.guard.filter(found, _resource)]


def delete_rule(work: Work, rule_id: str) -> None:
    rule = work.store.load_routing_rule(rule_id) if isinstance(rule_id, str) else None
    if rule is None:
        raise NotFound("no such routing rule")
    work.guard.require(_resource(rule), "no such routing rule")
    work.store.delete_routing_rule(rule_id)


def _applies(rule: Document, task: Document) -> bool:
    """Inside its owner's subtree only (a rule of the city's applies everywhere)."""
    owner = rule.get("owner")
    place = task.get("jurisdiction") or task.get("dispatcher")
    return owner is None or (
        isinstance(place, str) and within(place, owner) and within(rule["unit"], owner)
    )


def _matches(rule: Document, task: Document) -> bool:
    for key, value in rule["match"].items():
        if key == "jurisdiction":
            if not task.get("jurisdiction") or not within(task["jurisdiction"], value):
                return False
        elif task.get(key) != value:
            return False
    return True


def route(store: TaskStore, task: Document) -> str | None:
    """The receiving unit for ``task``, or None when no rule matches."""
    candidates = [r for r in store.routing_rules() if _applies(r, task) and _matches(r, task)]
    if not candidates:
        return None
    best = max(
        candidates,
        key=lambda r: (
            len(r["match"]),
            str(r["match"].get("jurisdiction", "")).count("/"),
            r["_id"],
        ),
    )
    return str(best["unit"])
