"""What a task adds to the statistics read model (统计), and how a period is read from it.

The statistics of a unit count the tasks its subtree held, by the Beijing day each was
dispatched. Rather than read every task at each question (FerretDB scans the collection for
any filter but ``_id``), each task adds whole numbers to **cells**: one document per unit and
period (``{unit}|d2026-12-03``, ``{unit}|m2026-12``, ``{unit}|all``), each holding

* ``all``: the figures of the tasks the unit's subtree held;
* ``own``: those the unit held itself (its own row among ``by_unit``);
* ``below.<code>``: the ``all`` of each unit directly below (the drill-down rows);
* ``ids.<task>`` (day cells only): which tasks, each with the milliseconds it was
  dispatched, so a period that starts or ends inside a day is counted exactly from the
  tasks of that day within it (:func:`cover` names those edges), and only those are read.

A task's share (:func:`share`) is a function of its fields alone, so the read model is kept
by adding ``share(now) - share(as last folded)`` (see :mod:`services.tasks.statsfold`).
Figures that depend on the moment asked are kept as counts the question reads: an open
task with a deadline adds one to ``due.<hour>`` (the milliseconds its deadline's hour
starts; a few thousand keys a cell, however many tasks are open), and to the **hour cell**
of each unit of its reach (``{unit}|h<hour>``) its ``ids.<task>``, the milliseconds of its
deadline. Overdue, at any moment, are the tasks due in the hours before it and those of its
own hour's cell whose deadline has passed (read by ``_id``, as a day's edge is).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from services.common.actor import ancestors, within
from services.common.document import Document
from services.tasks.calendar import CST
from services.tasks.lifecycle import OPEN
from services.tasks.store import PARTNER_PREFIX

Share = Counter[tuple[str, str]]  # (cell id, dotted path) -> a whole number
CARDS = ("warning", "yellow", "red")
FIELDS = (
    "dispatched_at",
    "holders",
    "status",
    "completed_at",
    "on_time",
    "due_at",
    "rolled_back_by",
    "urges",
    "cards",
    "working_minutes",
    "created_at",
    "reach",
    "partner",
    "receiver",
)  # what a share is made of: all a fold keeps of a task


def facts(task: Document) -> Document:
    """The fields of ``task`` its share is made of (with its ``_id``)."""
    return {"_id": task["_id"], **{name: task.get(name) for name in FIELDS}}


def cell_id(unit: str, period: str) -> str:
    return f"{unit}|{period}"


def day_period(day: date) -> str:
    return f"d{day.isoformat()}"


def month_period(day: date) -> str:
    return f"m{day.year:04d}-{day.month:02d}"


ALL = "all"


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _millis(moment: datetime) -> int:
    """Milliseconds since the epoch, truncated as BSON keeps them (in integers: a float's
    ``timestamp() * 1000`` can land a microsecond below a whole millisecond)."""
    return (moment - EPOCH) // timedelta(milliseconds=1)


HOUR_MS = 3_600_000


def hour_of(moment: datetime) -> int:
    """The milliseconds of the start of the hour ``moment`` falls in."""
    return _millis(moment) // HOUR_MS * HOUR_MS


def hour_period(hour: int) -> str:
    return f"h{hour}"


def is_due(task: Document) -> bool:
    """Open and with a deadline: overdue once the deadline has passed."""
    done = task.get("completed_at") is not None
    return not done and task.get("status") in OPEN and task.get("due_at") is not None


def figures(task: Document) -> dict[str, int]:
    """The task's figures, but ``rolled`` (which depends on the unit counting)."""
    done = task.get("completed_at") is not None
    counted: dict[str, int] = {"n": 1, "urges": int(task.get("urges") or 0)}
    if done:
        counted["done"] = 1
        counted["on_time"] = int(bool(task.get("on_time")))
        if task.get("working_minutes") is not None:
            counted["mins"] = round(float(task["working_minutes"]) * 10)
            counted["timed"] = 1
    elif is_due(task):
        counted[f"due.{hour_of(task['due_at'])}"] = 1
    for card in task.get("cards") or []:
        if card.get("card") in CARDS:
            counted[card["card"]] = counted.get(card["card"], 0) + 1
    return counted


def holders_of(task: Document) -> list[str]:
    return [h for h in task.get("holders") or [] if not h.startswith(PARTNER_PREFIX)]


def share(task: Document) -> Share:
    """What ``task`` adds to the cells: to the statistics once it is dispatched, to the
    boards (:func:`boards_of`) from its creation."""
    added: Share = Counter()
    created = task.get("created_at")
    if created is not None:
        for board in boards_of(task):
            added[(board, f"top.{task['_id']}")] = _millis(created)
    at = task.get("dispatched_at")
    holders = holders_of(task)
    if at is None or not holders:
        return added
    day = at.astimezone(CST).date()
    periods = (day_period(day), month_period(day), ALL)
    base = figures(task)
    due = task["due_at"] if is_due(task) else None
    rolled_by = set(task.get("rolled_back_by") or [])
    reach = sorted({unit for holder in holders for unit in ancestors(holder)})
    for unit in reach:
        counted = dict(base)
        counted["rolled"] = int(any(h in rolled_by for h in holders if within(h, unit)))
        places = ["all", "own"] if unit in holders else ["all"]
        parent, _, code = unit.rpartition("/")
        for period in periods:
            for place in places:
                _add(added, cell_id(unit, period), place, counted)
            if parent:
                _add(added, cell_id(parent, period), f"below.{code}", counted)
        added[(cell_id(unit, periods[0]), f"ids.{task['_id']}")] += _millis(at)
        if due is not None:
            added[(cell_id(unit, hour_period(hour_of(due))), f"ids.{task['_id']}")] += _millis(due)
    return added


# the boards' first pages: for each scope a board is read in (a unit's reach, every task, a
# partner's), the newest tasks as ``top.<task>``: the milliseconds it was created

BOARD_SIZE = 200  # newest tasks a board's cell keeps (four pages of 50)
EVERY = "*"


def board_id(scope: str) -> str:
    return f"board|{scope}"


def partner_scope(client: str) -> str:
    return f"{PARTNER_PREFIX}{client}"


def boards_of(task: Document) -> list[str]:
    """The boards ``task`` is on: every unit of its reach, every task's, its partners'."""
    scopes = {EVERY, *(task.get("reach") or [])}
    if task.get("partner"):
        scopes.add(partner_scope(str(task["partner"])))
    receiver = task.get("receiver")
    if isinstance(receiver, str) and receiver.startswith(PARTNER_PREFIX):
        scopes.add(receiver)
    return [board_id(scope) for scope in sorted(scopes)]


def is_board(cell: str) -> bool:
    return cell.startswith("board|")


Floor = tuple[int, str]  # a board's lowest kept place: (creation ms, task id), its order
NO_FLOOR: Floor = (0, "")


def floor_of(cell: Document) -> Floor:
    """Where a board's cell stops knowing every task: each task at or below it was dropped.
    The task id breaks ties, as the board orders, since many tasks can share a creation
    millisecond (an import, a batch from a partner)."""
    return int(cell.get("floor", 0)), str(cell.get("floor_task", ""))


def newest(top: dict[str, Any], floor: Floor = NO_FLOOR) -> list[str]:
    """A board's task ids above ``floor``, newest first (as the board lists them: by
    creation, then id)."""
    found = sorted(((int(at), task_id) for task_id, at in top.items() if int(at) > 0), reverse=True)
    return [task_id for at, task_id in found if (at, task_id) > floor]


def _add(added: Share, cell: str, place: str, counted: dict[str, int]) -> None:
    for name, value in counted.items():
        if value:
            added[(cell, f"{place}.{name}")] += value


def difference(now: Share, before: Share) -> Share:
    """``now - before``, keeping negative and dropping zero entries."""
    changed: Share = Counter(now)
    changed.subtract(before)
    return Counter({key: value for key, value in changed.items() if value})


# reading a period


@dataclass(frozen=True)
class Edge:
    """Part of one Beijing day, counted from that day's tasks: ``low`` ≤ dispatched <
    ``high``, added (``sign`` 1) or taken away (-1)."""

    day: date
    low: datetime
    high: datetime
    sign: int = 1


@dataclass
class Cover:
    """A period as cells added (``plus``), cells taken away (``minus``) and edges."""

    plus: list[str] = field(default_factory=list)
    minus: list[str] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(), CST)


def cover(since: datetime | None, until: datetime, now: datetime) -> Cover:
    """The periods (of cells) and edges (of a day's tasks) that count the tasks dispatched
    in [``since``, ``until``): nothing is dispatched after ``now``, so an end past it is the
    end of today; without ``since``, everything until ``until``."""
    end_of_today = midnight(now.astimezone(CST).date() + timedelta(days=1))
    end = end_of_today if until >= now else until
    if since is None:  # everything, less what came after ``end``
        after = _cover(end, end_of_today)
        edges = [Edge(e.day, e.low, e.high, sign=-1) for e in after.edges]
        return Cover(plus=[ALL], minus=after.plus, edges=edges)
    return _cover(since, end)


def _cover(low: datetime, high: datetime) -> Cover:
    found = Cover()
    if low >= high:
        return found
    first = low.astimezone(CST).date()
    if low != midnight(first):
        found.edges.append(Edge(first, low, min(high, midnight(first + timedelta(days=1)))))
        first += timedelta(days=1)
    last = high.astimezone(CST).date()  # the day ``high`` falls in (exclusive if midnight)
    if high != midnight(last) and midnight(last) >= midnight(first):
        found.edges.append(Edge(last, midnight(last), high))
    day = first
    while day < last:
        month_end = date(day.year + day.month // 12, day.month % 12 + 1, 1)
        if day.day == 1 and month_end <= last:
            found.plus.append(month_period(day))
            day = month_end
        else:
            found.plus.append(day_period(day))
            day += timedelta(days=1)
    return found


def dispatched_within(ids: Document | None, edge: Edge) -> list[str]:
    """The tasks of a day cell's ``ids`` dispatched within ``edge``."""
    return _between(ids, _millis(edge.low), _millis(edge.high))


def due_before(ids: Document | None, now: datetime) -> list[str]:
    """The tasks of an hour cell's ``ids`` whose deadline is before ``now`` (a deadline is
    kept to the millisecond: one at ``.000`` is past at ``.0005``)."""
    return _between(ids, 0, -(-(now - EPOCH) // timedelta(milliseconds=1)))


def _between(ids: Document | None, low: int, high: int) -> list[str]:
    return sorted(task_id for task_id, at in (ids or {}).items() if low <= int(at) < high)


def cells_of(unit: str, periods: list[str]) -> list[str]:
    return [cell_id(unit, period) for period in periods]


# the figures as a clerk reads them


def read(part: Document | None, now: datetime, due_this_hour: int = 0) -> dict[str, Any]:
    """One row of figures (``all``, ``own`` or ``below.<code>`` of a cell, summed): overdue
    are the tasks due in the hours before this one, and ``due_this_hour`` (those of this
    hour whose deadline has passed, which the hour's cell names)."""
    part = part or {}
    n, done, timed = int(part.get("n", 0)), int(part.get("done", 0)), int(part.get("timed", 0))
    hour = hour_of(now)
    past = sum(int(c) for at, c in (part.get("due") or {}).items() if int(at) < hour)
    overdue = past + due_this_hour
    return {
        "received": n,
        "completed": done,
        "on_time_rate": round(int(part.get("on_time", 0)) / done, 4) if done else None,
        "overdue": overdue,
        "rollback_rate": round(int(part.get("rolled", 0)) / n, 4) if n else None,
        "urges": int(part.get("urges", 0)),
        "cards": {card: int(part.get(card, 0)) for card in CARDS},
        "avg_handling_working_hours": round(int(part.get("mins", 0)) / 10 / timed / 60, 2)
        if timed
        else None,
    }


def add_into(total: Document, part: Document | None, sign: int = 1) -> None:
    """Add (or, with ``sign`` -1, take away) the numbers of ``part`` into ``total``."""
    for name, value in (part or {}).items():
        if isinstance(value, dict):
            add_into(total.setdefault(name, {}), value, sign)
        else:
            total[name] = int(total.get(name, 0)) + sign * int(value)


def value_at(cell: Document | None, path: str) -> int:
    """The number at the dotted ``path`` of ``cell`` (0 where there is none)."""
    place: Any = cell or {}
    for part in path.split("."):
        place = place.get(part) if isinstance(place, dict) else None
        if place is None:
            return 0
    return int(place)


def put_path(cell: Document, path: str, value: int | None) -> None:
    """Set the number at the dotted ``path`` of ``cell`` (made where missing); a zero or
    None removes it, as a fold's ``$unset`` does."""
    *parents, last = path.split(".")
    place = cell
    for part in parents:
        place = place.setdefault(part, {})
    if value:
        place[last] = value
    else:
        place.pop(last, None)
