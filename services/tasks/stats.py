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
    # a part of a day from that day's tasks, overdue in this hour from this hour's tasks.
    plan = tally.cover(since, until, now)
    edge_days = [tally.cell_id(unit, tally.day_period(edge.day)) for edge in plan.edges]
    plus, minus = tally.cells_of(unit, plan.plus), tally.cells_of(unit, plan.minus)
    this_hour = tally.cell_id(unit, tally.hour_period(tally.hour_of(now)))
    wanted = [*plus, *minus, *edge_days, this_hour]
    cells, left = statsfold.snapshot(work.store, wanted, work.mapper)
    summed: Document = {}
    for cell_id in plus:
        tally.add_into(summed, cells.get(cell_id))
    for cell_id in minus:
        tally.add_into(summed, cells.get(cell_id), -1)
    for edge, cell_id in zip(plan.edges, edge_days, strict=True):
        ids = tally.dispatched_within((cells.get(cell_id) or {}).get("ids"), edge)
        for task in work.store.load_tasks(ids, work.mapper):
            tally.add_into(summed, _share_in(task, _edge_weights(task, plan, edge_days)))
    late = _due_this_hour(work, cells.get(this_hour), plan, plus, minus, edge_days)
    below, late_below = summed.get("below") or {}, late.get("below") or {}
    rows = [(unit, summed.get("own"), late.get("own"))] if _counted(summed.get("own")) else []
    rows += [
        (f"{unit}/{code}", below[code], late_below.get(code))
        for code in sorted(below)
        if _counted(below[code])
    ]
    hour = str(tally.hour_of(now))
    return {
        "unit": unit,
        "from": format_time(since) if since else None,
        "to": format_time(until),
        **tally.read(summed.get("all"), now, _late(late.get("all"), hour)),
        "by_unit": [
            {"unit": row, **tally.read(part, now, _late(due, hour))} for row, part, due in rows
        ],
        "uncounted": left,
    }


def _edge_weights(
    task: Document, plan: tally.Cover, edge_days: list[str], base: dict[str, int] | None = None
) -> dict[str, int]:
    """``base``, with the day cell of the edge ``task`` was dispatched within added with
    the edge's sign."""
    at = task.get("dispatched_at")
    weights = dict(base or {})
    for edge, cell_id in zip(plan.edges, edge_days, strict=True):
        if at is not None and edge.low <= at < edge.high:
            weights[cell_id] = weights.get(cell_id, 0) + edge.sign
    return weights


def _due_this_hour(
    work: Work,
    hour_cell: Document | None,
    plan: tally.Cover,
    plus: list[str],
    minus: list[str],
    edge_days: list[str],
) -> Document:
    """What the tasks of this hour whose deadline has passed add to the period's cells (the
    hour's ``due`` counts only, by place), each read by ``_id``."""
    base = {**dict.fromkeys(plus, 1), **dict.fromkeys(minus, -1)}
    late: Document = {}
    for task in work.store.load_tasks(
        tally.due_before((hour_cell or {}).get("ids"), work.now), work.mapper
    ):
        if not tally.is_due(task) or not task["due_at"] < work.now:
            continue  # changed since the cell was read
        tally.add_into(late, _share_in(task, _edge_weights(task, plan, edge_days, base)))
    return late


def _late(part: Document | None, hour: str) -> int:
    """Of a row's share of this hour's late tasks, how many are due in this hour."""
    return int(((part or {}).get("due") or {}).get(hour, 0))


def _counted(part: Document | None) -> bool:
    return bool(part and int(part.get("n", 0)) > 0)


def _share_in(task: Document, weights: dict[str, int]) -> Document:
    """What ``task`` adds to the cells of ``weights``, each taken that many times (a cell
    subtracted: -1), as one document (without the lists of tasks)."""
    found: Document = {}
    for (cell_id, path), value in tally.share(task).items():
        weight = weights.get(cell_id, 0)
        if weight and not path.startswith("ids."):
            tally.put_path(found, path, tally.value_at(found, path) + weight * value)
    return found
