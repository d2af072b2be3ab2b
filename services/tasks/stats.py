"""Statistics per unit and period (统计): received, completed, on-time rate, overdue,
rollback rate, urges, cards by colour, average handling time in working hours.

A task counts for every unit that held it (the unit dispatched to, and those it was
transferred or reassigned to), in the period it was dispatched."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.database import Database

from services.common.access import Guard
from services.common.codec import format_time, parse_time
from services.common.errors import InvalidInput, NotFound
from services.common.mongo import Document
from services.tasks import access
from services.tasks.lifecycle import OPEN

FIELDS = {
    "status": 1,
    "completed_at": 1,
    "on_time": 1,
    "due_at": 1,
    "rolled_back_by": 1,
    "urges": 1,
    "cards": 1,
    "working_minutes": 1,
}


def unit_stats(
    db: Database[Document],
    guard: Guard,
    now: datetime,
    unit: str,
    start: str | None,
    end: str | None,
) -> dict[str, Any]:
    if not isinstance(unit, str) or not unit:
        raise NotFound("no such org unit", field="unit")
    guard.require(access.org_unit(unit), "no such org unit", field="unit")
    since = parse_time(start, "from") if start else None
    until = parse_time(end, "to") if end else now
    if since and since >= until:
        raise InvalidInput("must be before to", field="from")
    window: Document = {"$lt": until} | ({"$gte": since} if since else {})
    received = completed = on_time = overdue = rolled_back = urges = 0
    cards = {"warning": 0, "yellow": 0, "red": 0}
    minutes: list[float] = []
    for task in db.tasks.find({"holders": unit, "dispatched_at": window}, FIELDS):
        received += 1
        if task.get("completed_at") is not None:
            completed += 1
            on_time += bool(task.get("on_time"))
            if task.get("working_minutes") is not None:
                minutes.append(float(task["working_minutes"]))
        elif task["status"] in OPEN and task.get("due_at") and task["due_at"] < now:
            overdue += 1
        rolled_back += unit in task.get("rolled_back_by", [])
        urges += int(task.get("urges", 0))
        for card in task.get("cards", []):
            cards[card["card"]] += 1
    return {
        "unit": unit,
        "from": format_time(since) if since else None,
        "to": format_time(until),
        "received": received,
        "completed": completed,
        "on_time_rate": round(on_time / completed, 4) if completed else None,
        "overdue": overdue,
        "rollback_rate": round(rolled_back / received, 4) if received else None,
        "urges": urges,
        "cards": cards,
        "avg_handling_working_hours": round(sum(minutes) / len(minutes) / 60, 2)
        if minutes
        else None,
    }
