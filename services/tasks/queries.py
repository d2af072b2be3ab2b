"""Reading tasks: the list with filters (a unit sees what it dispatched or received and
everything below it), one task, its history, the notices left for a unit."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pymongo.database import Database

from services.common.access import Guard
from services.common.codec import parse_time, to_wire
from services.common.errors import InvalidInput, NotFound
from services.common.mongo import Document
from services.tasks import journal
from services.tasks.lifecycle import LEVELS, OPEN, PARTNER_PREFIX
from services.tasks.views import task_view

SORTS = {"created": "created_at", "due": "due_at", "updated": "updated_at"}
CARDS = ("none", "warning", "yellow", "red")


def _scope(guard: Guard, unit: str | None) -> Document:
    """A partner system sees the tasks it created or was sent; staff, their jurisdiction's
    (or the subtree of a unit in it)."""
    actor = guard.actor
    if actor.client_id:
        guard.done()
        return {
            "$or": [{"partner": actor.client_id}, {"receiver": PARTNER_PREFIX + actor.client_id}]
        }
    if unit is None:
        root = guard.reach()
        if root is None:
            raise NotFound("no such org unit", field="unit")
        return {"reach": root} if root else {}
    if not guard.within_reach(unit):
        raise NotFound("no such org unit", field="unit")
    return {"reach": unit}


def list_tasks(
    db: Database[Document],
    guard: Guard,
    now: datetime,
    filters: dict[str, Any],
    limit: int,
    offset: int,
) -> dict[str, Any]:
    query: Document = _scope(guard, filters.get("unit"))
    if filters.get("state"):
        query["status"] = filters["state"]
    for key in ("source", "category"):
        if filters.get(key):
            query[key] = filters[key]
    if filters.get("level"):
        if filters["level"] not in LEVELS:
            raise InvalidInput(f"one of {', '.join(LEVELS)}", field="level")
        query["level"] = filters["level"]
    if filters.get("card"):
        if filters["card"] not in CARDS:
            raise InvalidInput(f"one of {', '.join(CARDS)}", field="card")
        query["card"] = filters["card"]
    if filters.get("overdue"):
        query["status"] = {"$in": sorted(OPEN)} if not filters.get("state") else query["status"]
        query["due_at"] = {"$lt": now}
    for key, field, op in (
        ("created_from", "created_at", "$gte"),
        ("created_to", "created_at", "$lt"),
        ("due_from", "due_at", "$gte"),
        ("due_to", "due_at", "$lt"),
    ):
        if filters.get(key):
            query.setdefault(field, {})[op] = parse_time(filters[key], key)
    if filters.get("text"):
        if len(filters["text"]) > 100:
            raise InvalidInput("at most 100 characters", field="text")
        query["title"] = {"$regex": re.escape(filters["text"])}
    sort = filters.get("sort", "created")
    if sort not in SORTS:
        raise InvalidInput(f"one of {', '.join(SORTS)}", field="sort")
    order = -1 if filters.get("order", "desc") == "desc" else 1
    cursor = db.tasks.find(query).sort([(SORTS[sort], order), ("_id", order)])
    items = [task_view(t) for t in cursor.skip(offset).limit(limit)]
    return {"items": items, "limit": limit, "offset": offset}


def history(db: Database[Document], task: Document) -> list[dict[str, Any]]:
    return [journal.history_view(e) for e in journal.history(db, task)]


def notices_for(
    db: Database[Document], guard: Guard, now: datetime, limit: int = 50
) -> list[dict[str, Any]]:
    """The notices delivered to the caller's unit by now (those held for working hours wait)."""
    actor = guard.actor
    if actor.org_path is None:
        return []
    found = db.notices.find({"unit": actor.org_path, "deliver_at": {"$lte": now}})
    return [
        to_wire({k: n.get(k) for k in ("task", "kind", "text", "at", "deliver_at")})
        for n in found.sort("deliver_at", -1).limit(limit)
    ]
