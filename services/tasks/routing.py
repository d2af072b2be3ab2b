"""Routing rules (自动派单): (source, category, matter, jurisdiction) → receiving unit, for
tasks that arrive without one. Every field a rule names must match (the jurisdiction as a
subtree); the rule naming more fields, then the deeper jurisdiction, wins. A task no rule
matches waits in its dispatcher's queue."""

from __future__ import annotations

import secrets
from typing import Any

from pymongo.database import Database

from services.common.actor import within
from services.common.codec import to_wire, utcnow
from services.common.errors import InvalidInput, NotFound
from services.common.mongo import Document

FIELDS = ("source", "category", "matter", "jurisdiction")


def add_rule(
    db: Database[Document], match: dict[str, Any], unit: str, by: str | None
) -> dict[str, Any]:
    unknown = set(match) - set(FIELDS)
    if unknown:
        raise InvalidInput(f"unknown match fields: {', '.join(sorted(unknown))}", field="match")
    if not all(isinstance(v, str) and v for v in match.values()):
        raise InvalidInput("each match value is a non-empty string", field="match")
    if not isinstance(unit, str) or not unit:
        raise InvalidInput("the receiving unit's path", field="unit")
    rule = {
        "_id": "rr_" + secrets.token_hex(6),
        "match": match,
        "unit": unit,
        "at": utcnow(),
        "by": by,
    }
    db.routing_rules.insert_one(rule)
    return view(rule)


def view(rule: Document) -> dict[str, Any]:
    return to_wire({"id": rule["_id"], "match": rule["match"], "unit": rule["unit"]})


def list_rules(db: Database[Document]) -> list[dict[str, Any]]:
    return [view(r) for r in db.routing_rules.find({}).sort("_id", 1)]


def delete_rule(db: Database[Document], rule_id: str) -> None:
    if db.routing_rules.delete_one({"_id": rule_id}).deleted_count == 0:
        raise NotFound("no such routing rule")


def _matches(rule: Document, task: Document) -> bool:
    for key, value in rule["match"].items():
        if key == "jurisdiction":
            if not task.get("jurisdiction") or not within(task["jurisdiction"], value):
                return False
        elif task.get(key) != value:
            return False
    return True


def route(db: Database[Document], task: Document) -> str | None:
    """The receiving unit for ``task``, or None when no rule matches."""
    candidates = [r for r in db.routing_rules.find({}) if _matches(r, task)]
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
