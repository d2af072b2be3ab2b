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

from datetime import date, datetime, timedelta
from typing import Any

from services.common.codec import FIRST_YEAR, LAST_YEAR, format_time
from services.common.document import Document
from services.common.errors import InvalidInput, NotFound
from services.tasks import access, statsfold, tally
from services.tasks.calendar import CST
from services.tasks.work import Work


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
    # From the read model (services.tasks.tally): whole months and days from their cells,
    # a part of a day from that day's tasks.
    plan = tally.cover(since, until, now)
    edge_days = [tally.cell_id(unit, tally.day_period(edge.day)) for edge in plan.edges]
    plus, minus = tally.cells_of(unit, plan.plus), tally.cells_of(unit, plan.minus)
    cells, left = statsfold.snapshot(work.store, [*plus, *minus, *edge_days], work.mapper)
    summed: Document = {}
    for cell_id in plus:
        tally.add_into(summed, cells.get(cell_id))
    for cell_id in minus:
        tally.add_into(summed, cells.get(cell_id), -1)
    for edge, cell_id in zip(plan.edges, edge_days, strict=True):
        ids = tally.dispatched_within((cells.get(cell_id) or {}).get("ids"), edge)
        for task in work.store.load_tasks(ids, work.mapper):
            at = task.get("dispatched_at")
            if at is not None and edge.low <= at < edge.high:
                tally.add_into(summed, _own_share(task, unit), edge.sign)
    below = summed.get("below") or {}
    rows = [(unit, summed.get("own"))] if _counted(summed.get("own")) else []
    rows += [(f"{unit}/{code}", below[code]) for code in sorted(below) if _counted(below[code])]
    return {
        "unit": unit,
        "from": format_time(since) if since else None,
        "to": format_time(until),
        **tally.read(summed.get("all"), now),
        "by_unit": [{"unit": row, **tally.read(part, now)} for row, part in rows],
        "uncounted": left,
    }


def _counted(part: Document | None) -> bool:
    return bool(part and int(part.get("n", 0)) > 0)


def _own_share(task: Document, unit: str) -> Document:
    """What ``task`` adds to ``unit``'s cell of the day it was dispatched, as one document."""
    day = task["dispatched_at"].astimezone(CST).date()
    cell = tally.cell_id(unit, tally.day_period(day))
    found: Document = {}
    for (cell_id, path), value in tally.share(task).items():
        if cell_id == cell and not path.startswith("ids."):
            tally.put_path(found, path, value)
    return found
