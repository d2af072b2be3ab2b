"""Statistics per unit and period (统计): received, completed, on-time rate, overdue,
rollback rate, urges, cards by colour, average handling time in working hours.

A unit's figures cover its whole subtree (a district counts its streets' and communities'
tasks), each task once however many units of the subtree held it, with the same figures for
each unit directly below (``by_unit``, for drilling down; a task held by two of them counts in
both rows, so the rows may add up to more than the total). A task counts in the period it was
dispatched. ``from`` and ``to`` are ISO 8601 times or dates; without an offset they are China
Standard Time (``from`` a date: its midnight in Beijing; ``to`` a date: the end of that day),
as a clerk of the city means them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from services.common.actor import within
from services.common.codec import FIRST_YEAR, LAST_YEAR, format_time
from services.common.document import Document
from services.common.errors import InvalidInput, NotFound
from services.tasks import access
from services.tasks.calendar import CST
from services.tasks.lifecycle import OPEN
from services.tasks.work import Work

FIELDS = {
    "status": 1,
    "holders": 1,
    "completed_at": 1,
    "on_time": 1,
    "due_at": 1,
    "rolled_back_by": 1,
    "urges": 1,
    "cards": 1,
    "working_minutes": 1,
}


@dataclass
class Tally:
    """The figures of one unit (or subtree) as tasks are added."""

    received: int = 0
    completed: int = 0
    on_time: int = 0
    overdue: int = 0
    rolled_back: int = 0
    urges: int = 0
    cards: dict[str, int] = field(default_factory=lambda: {"warning": 0, "yellow": 0, "red": 0})
    minutes: list[float] = field(default_factory=list)

    def add(self, task: Document, now: datetime, rolled_back: bool) -> None:
        self.received += 1
        if task.get("completed_at") is not None:
            self.completed += 1
            self.on_time += bool(task.get("on_time"))
            if task.get("working_minutes") is not None:
                self.minutes.append(float(task["working_minutes"]))
        elif task["status"] in OPEN and task.get("due_at") and task["due_at"] < now:
            self.overdue += 1
        self.rolled_back += rolled_back
        self.urges += int(task.get("urges", 0))
        for card in task.get("cards", []):
            self.cards[card["card"]] += 1

    def view(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "completed": self.completed,
            "on_time_rate": round(self.on_time / self.completed, 4) if self.completed else None,
            "overdue": self.overdue,
            "rollback_rate": round(self.rolled_back / self.received, 4) if self.received else None,
            "urges": self.urges,
            "cards": dict(self.cards),
            "avg_handling_working_hours": round(sum(self.minutes) / len(self.minutes) / 60, 2)
            if self.minutes
            else None,
        }


def parse_local(value: str, name: str, through: bool = False) -> datetime:
    """An ISO 8601 time or date; without an offset it is China Standard Time. ``through``:
    a date is the end of that day (for ``to``)."""
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            parsed = datetime(day.year, day.month, day.day, tzinfo=CST)
            # A date as ``to`` means up to the end of that day, as a clerk reads "to the 31st".
            parsed += timedelta(days=1) if through else timedelta()
        else:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidInput("an ISO 8601 time or date, such as 2026-11-01", field=name) from exc
    if not FIRST_YEAR <= parsed.year <= LAST_YEAR:
        raise InvalidInput(f"a time between {FIRST_YEAR} and {LAST_YEAR}", field=name)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=CST)


def _child_of(unit: str, holder: str) -> str:
    """The unit directly below ``unit`` on the way to ``holder`` (``unit`` itself if equal)."""
    if holder == unit:
        return unit
    return f"{unit}/{holder[len(unit) + 1 :].split('/')[0]}"


def unit_stats(
    work: Work, unit: str, start: str | None = None, end: str | None = None
) -> dict[str, Any]:
    now = work.now
    if not isinstance(unit, str) or not unit:
        raise NotFound("no such org unit", field="unit")
    work.guard.require(access.org_unit(unit), "no such org unit", field="unit")
    if not work.unit_exists(unit):
        raise NotFound("no such org unit", field="unit")
    since = parse_local(start, "from") if start else None
    until = parse_local(end, "to", through=True) if end else now
    if since and since >= until:
        raise InvalidInput("must be before to", field="from")
    total = Tally()
    below: dict[str, Tally] = {}
    # ``held_within`` holds every unit a task was with and those above them: the subtree's
    # tasks are those naming ``unit``; which unit of the subtree held each is checked here.
    for task in work.store.dispatched_within(unit, since, until, FIELDS):
        inside = [h for h in task.get("holders", []) if within(h, unit)]
        if not inside:
            continue
        rolled = task.get("rolled_back_by", [])
        total.add(task, now, any(h in rolled for h in inside))
        for child in sorted({_child_of(unit, h) for h in inside}):
            mine = [h for h in inside if within(h, child)]
            tally = below.setdefault(child, Tally())
            tally.add(task, now, any(h in rolled for h in mine))
    return {
        "unit": unit,
        "from": format_time(since) if since else None,
        "to": format_time(until),
        **total.view(),
        "by_unit": [{"unit": child, **below[child].view()} for child in sorted(below)],
    }
