"""The statistics read model answers what counting the tasks themselves answers: for any
unit, any period (Beijing dates or times), with changes folded, queued, or caught mid-fold by
a folder that stopped; and each change counts once however often a fold is finished."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from unittest.mock import ANY

import pytest

from services.common.actor import Actor, ancestors, within
from services.common.document import Document
from services.tasks import journal, lifecycle, queries, statsfold, tally
from services.tasks.calendar import CST
from services.tasks.stats import unit_stats
from services.tasks.store import Board
from tests.unit.tasks.memory_store import MemoryTaskStore
from tests.unit.tasks.working import HOTLINE, as_, seeded, work

NOW = datetime(2026, 12, 3, 9, 30, tzinfo=CST)
UNITS = ["C", "C/HP", "C/HP/NH", "C/HP/NH/XH", "C/HP/TYJ", "C/SH", "C/SH/WJ"]
SUPERVISOR = Actor(account_id="acc_sup", roles=("supervisor",), org_path="C", name="市")


@dataclass
class Oracle:
    """The figures counted from the tasks themselves, as the service once did."""

    received: int = 0
    completed: int = 0
    on_time: int = 0
    overdue: int = 0
    rolled: int = 0
    urges: int = 0
    cards: dict[str, int] = field(default_factory=lambda: dict.fromkeys(tally.CARDS, 0))
    minutes: list[float] = field(default_factory=list)

    def add(self, task: Document, rolled: bool) -> None:
        self.received += 1
        if task.get("completed_at") is not None:
            self.completed += 1
            self.on_time += bool(task.get("on_time"))
            if task.get("working_minutes") is not None:
                self.minutes.append(float(task["working_minutes"]))
        elif task["status"] in tally.OPEN and task.get("due_at") and task["due_at"] < NOW:
            self.overdue += 1
        self.rolled += rolled
        self.urges += int(task.get("urges", 0))
        for card in task.get("cards", []):
            self.cards[card["card"]] += 1

    def view(self) -> dict[str, Any]:
        done, n = self.completed, self.received
        return {
            "received": n,
            "completed": done,
            "on_time_rate": round(self.on_time / done, 4) if done else None,
            "overdue": self.overdue,
            "rollback_rate": round(self.rolled / n, 4) if n else None,
            "urges": self.urges,
            "cards": dict(self.cards),
            # minutes are kept to the tenth: summed as tenths, exactly
            "avg_handling_working_hours": round(
                sum(round(m * 10) for m in self.minutes) / 10 / len(self.minutes) / 60, 2
            )
            if self.minutes
            else None,
        }


def counted(tasks: list[Document], unit: str, since: datetime | None, until: datetime) -> Any:
    total, below = Oracle(), {}
    for task in tasks:
        at = task.get("dispatched_at")
        if at is None or at >= until or (since is not None and at < since):
            continue
        inside = [h for h in task["holders"] if within(h, unit)]
        if not inside:
            continue
        rolled = task["rolled_back_by"]
        total.add(task, any(h in rolled for h in inside))
        children = {
            h if h == unit else f"{unit}/{h[len(unit) + 1 :].split('/')[0]}" for h in inside
        }
        for child in sorted(children):
            mine = [h for h in inside if within(h, child)]
            below.setdefault(child, Oracle()).add(task, any(h in rolled for h in mine))
    return total.view(), [{"unit": c, **below[c].view()} for c in sorted(below)]


def a_task(rng: random.Random, number: int) -> Document:
    holders = sorted(set(rng.sample(UNITS[1:], rng.choice([1, 1, 2, 3]))))
    at: datetime | None = NOW - timedelta(days=rng.randint(0, 70), minutes=rng.randint(0, 1439))
    status = rng.choice(["dispatched", "in_progress", "feedback_submitted", "archived", "closed"])
    task: Document = {
        "_id": f"tk_{number:05d}",
        "rev": 1,
        "status": status,
        "holders": holders,
        "held_within": sorted({u for h in holders for u in ancestors(h)}),
        "dispatched_at": at if rng.random() > 0.05 else None,
        "due_at": (at or NOW) + timedelta(hours=rng.randint(1, 24 * 40)),
        "rolled_back_by": rng.sample(holders, rng.choice([0, 0, 1])),
        "urges": rng.choice([0, 0, 1, 3]),
        "cards": [{"card": c, "at": at} for c in rng.sample(list(tally.CARDS), rng.randint(0, 2))],
        "completed_at": None,
        "on_time": None,
        "working_minutes": None,
        "created_at": (at or NOW) - timedelta(minutes=rng.randint(0, 600)),
        "reach": sorted({u for h in holders[: rng.randint(0, len(holders))] for u in ancestors(h)}),
        "partner": rng.choice([None, None, "p1"]),
        "receiver": rng.choice([holders[0], holders[0], "partner:p2"]),
    }
    if status == "archived":
        task.update(
            completed_at=at + timedelta(hours=5),
            on_time=rng.random() < 0.7,
            working_minutes=round(rng.uniform(10, 5000), 1),
        )
    return task


def put(store: MemoryTaskStore, task: Document) -> None:
    """The task as its latest event leaves it, queued for the statistics as the journal does."""
    task["rev"] = int(task["rev"]) + 1
    store._put("tasks", task)
    store.queue_stats(f"{task['_id']}:{task['rev']:06d}", task["_id"], task["rev"])


def ask(store: MemoryTaskStore, unit: str, start: str | None, end: str | None) -> dict[str, Any]:
    found = unit_stats(work(store, as_(SUPERVISOR, "unit_stats"), NOW), unit, start, end)
    assert found["uncounted"] == 0
    return found


def expected(store: MemoryTaskStore, unit: str, start: str | None, end: str | None) -> Any:
    from services.tasks.stats import parse_local

    since = parse_local(start, "from") if start else None
    until = parse_local(end, "to", through=True) if end else NOW
    return counted(list(store.collections["tasks"].values()), unit, since, until)


PERIODS: list[tuple[str | None, str | None]] = [
    (None, None),
    ("2026-10-01", None),
    ("2026-11-01", "2026-11-30"),
    (None, "2026-11-15"),
    ("2026-11-03T10:15:00+08:00", "2026-11-20T08:00:00+08:00"),
    ("2026-12-03T01:00:00+08:00", None),
    (None, "2026-11-27T13:30:00+08:00"),
    ("2026-11-27T13:30:00", "2026-11-27T18:00:00"),
    ("2026-09-01", "2026-12-31"),
]


BOARDS = [
    *(Board(reach=unit) for unit in (None, "C/HP", "C/SH/WJ")),
    *(Board(partner=partner) for partner in ("p1", "p2")),
    Board(reach="C", offset=50),
    Board(reach="C/HP", limit=20),
]


def same(store: MemoryTaskStore, rng: random.Random) -> None:
    for board in BOARDS:
        found = queries._from_read_model(store, board)
        if tally.BOARD_SIZE >= 200:  # more than there are tasks: the cell has every page
            assert found is not None
        if found is not None:  # None: read from the tasks themselves
            assert [t["_id"] for t in found] == [t["_id"] for t in store.board(board)], board
    for unit in ["C", *rng.sample(UNITS[1:], 2)]:
        for start, end in PERIODS:
            found = ask(store, unit, start, end)
            total, rows = expected(store, unit, start, end)
            assert {k: found[k] for k in total} == total, (unit, start, end)
            assert found["by_unit"] == rows, (unit, start, end)


@pytest.mark.parametrize("seed", range(6))
def test_the_read_model_counts_what_the_tasks_say_through_changes_and_stopped_folds(
    seed: int,
) -> None:
    rng = random.Random(seed)
    store = MemoryTaskStore()
    tasks = [a_task(rng, n) for n in range(120)]
    for task in tasks:
        put(store, task)
    same(store, rng)  # all queued: the question adds them itself
    statsfold.fold(store, NOW, limit=rng.randint(10, 60))
    same(store, rng)  # some folded, some queued
    statsfold.fold_all(store, lambda: NOW, limit=25)
    assert store.queued_stats(10) == []
    same(store, rng)
    for task in rng.sample(tasks, 40):  # changes: completed, reassigned, urged, carded
        changed = a_task(rng, int(task["_id"][3:]))
        changed["rev"] = task["rev"]
        task.clear()
        task.update(changed)
        put(store, task)
    stopped = _stop_midway(store, rng)
    same(store, rng)  # a fold under way counts as it will leave the cells
    statsfold.fold(store, NOW)  # its writer is not silent long enough: left alone
    assert store.load_fold(stopped["number"]) == {**stopped, "_id": ANY}
    statsfold.fold_all(store, lambda: NOW + statsfold.TAKEOVER * 2)  # finished by another
    same(store, rng)
    assert not statsfold._still_mine(store, stopped)  # its writer, woken late, writes nothing
    statsfold.finish(store, stopped, replay=map)  # finished again: nothing counted twice
    same(store, rng)
    assert statsfold.reconcile(store) == 0  # every task counted as it is: nothing queued


def _stop_midway(store: MemoryTaskStore, rng: random.Random) -> Document:
    """A fold that inserted its intent and wrote only some of its cells before it stopped."""
    real_finish = statsfold.finish
    stopped: list[Document] = []

    def partly(store_: MemoryTaskStore, intent: Document) -> None:
        stopped.append(intent)
        for write in intent["writes"][: rng.randint(0, len(intent["writes"]))]:
            values = {write["p"]: write["v"]} if write["v"] else {}
            gone = [] if write["v"] else [write["p"]]
            store_.write_cells({write["c"]: (values, gone)}, intent["number"])

    statsfold.finish = partly  # type: ignore[assignment]
    try:
        statsfold.fold(store, NOW, limit=30)
    finally:
        statsfold.finish = real_finish  # type: ignore[assignment]
    head = store.fold_head()
    assert head is not None
    assert not head["done"]
    assert head["number"] == stopped[0]["number"]
    return stopped[0]


def test_an_intent_inserted_by_a_folder_that_stopped_at_once_is_finished_later() -> None:
    rng = random.Random(11)
    store = MemoryTaskStore()
    for n in range(30):
        put(store, a_task(rng, n))
    real_begin = statsfold._begin

    def stop(_store: Any, _intent: Document) -> None:
        raise KeyboardInterrupt  # the process ends between the insert and the head

    statsfold._begin = stop  # type: ignore[assignment]
    try:
        with pytest.raises(KeyboardInterrupt):
            statsfold.fold(store, NOW, limit=10)
    finally:
        statsfold._begin = real_begin  # type: ignore[assignment]
    assert store.fold_head() is None
    assert statsfold.fold(store, NOW) == 0  # young: its writer may be at it
    same(store, rng)
    statsfold.fold_all(store, lambda: NOW + statsfold.TAKEOVER * 2)
    assert store.queued_stats(10) == []
    same(store, rng)


def test_a_gone_task_leaves_the_figures() -> None:
    rng = random.Random(7)
    store = MemoryTaskStore()
    task = a_task(rng, 1)
    task["dispatched_at"] = NOW - timedelta(hours=1)
    put(store, task)
    statsfold.fold_all(store, lambda: NOW)
    assert ask(store, "C", None, None)["received"] == 1
    store._delete("tasks", task["_id"])
    store.queue_stats("tk_00001:gone", task["_id"], 0)
    statsfold.fold_all(store, lambda: NOW)
    assert ask(store, "C", None, None)["received"] == 0


def test_a_board_keeps_its_newest_and_reads_longer_lists_from_the_tasks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tally, "BOARD_SIZE", 12)
    rng = random.Random(5)
    store = MemoryTaskStore()
    tasks = [a_task(rng, n) for n in range(60)]
    for task in tasks:
        put(store, task)
    statsfold.fold_all(store, lambda: NOW, limit=7)
    every = store.load_cells([tally.board_id(tally.EVERY)])[tally.board_id(tally.EVERY)]
    assert len(every["top"]) == 12
    assert every["floor"] > 0
    first = queries._from_read_model(store, Board(limit=10))
    assert first is not None
    assert [t["_id"] for t in first] == [t["_id"] for t in store.board(Board(limit=10))]
    assert queries._from_read_model(store, Board(offset=10, limit=10)) is None  # past the cell
    for task in rng.sample(tasks, 20):  # some leave a unit's reach, some are new
        task["reach"] = []
        put(store, task)
    for n in range(60, 70):
        put(store, a_task(rng, n))
    same(store, rng)
    statsfold.fold_all(store, lambda: NOW)
    same(store, rng)


def test_a_board_whose_tasks_share_one_creation_millisecond_still_answers_from_its_cell(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An import made 40 tasks in one millisecond: the board keeps 12 of them and its floor
    is the place (millisecond, id) of the newest it dropped, so its first page comes from
    the cell, in the board's order, and a page reaching below the floor from the tasks."""
    monkeypatch.setattr(tally, "BOARD_SIZE", 12)
    rng = random.Random(17)
    store = MemoryTaskStore()
    for n in range(40):
        task = a_task(rng, n)
        task["created_at"] = NOW - timedelta(hours=2)
        put(store, task)
    statsfold.fold_all(store, lambda: NOW, limit=7)
    cell = store.load_cells([tally.board_id(tally.EVERY)])[tally.board_id(tally.EVERY)]
    assert len(cell["top"]) == 12
    assert tally.floor_of(cell)[0] == tally._millis(NOW - timedelta(hours=2))
    first = queries._from_read_model(store, Board(limit=10))
    assert first is not None, "the page fell back to reading every task"
    assert [t["_id"] for t in first] == [t["_id"] for t in store.board(Board(limit=10))]
    assert queries._from_read_model(store, Board(offset=10, limit=10)) is None
    late = a_task(rng, 99)  # a task of that millisecond with an id below the floor's: dropped
    late["_id"], late["created_at"] = "tk_00000a", NOW - timedelta(hours=2)
    put(store, late)
    statsfold.fold_all(store, lambda: NOW)
    cell = store.load_cells([tally.board_id(tally.EVERY)])[tally.board_id(tally.EVERY)]
    assert "tk_00000a" not in cell["top"]
    assert len(cell["top"]) == 12
    same(store, rng)


def test_a_period_to_now_reads_cells_and_no_tasks() -> None:
    """Nothing is dispatched after now: up to now is up to the end of today, whole days."""
    plan = tally.cover(None, NOW, NOW)
    assert (plan.plus, plan.minus, plan.edges) == ([tally.ALL], [], [])
    year = tally.cover(NOW - timedelta(days=365), NOW, NOW)
    assert len(year.edges) == 1  # the first day starts at half past nine: only it is counted
    assert year.edges[0].day == (NOW - timedelta(days=365)).date()
    dated = tally.cover(tally.midnight(date(2026, 1, 1)), NOW, NOW)
    assert dated.edges == []
    assert dated.plus[:2] == ["m2026-01", "m2026-02"]
    assert dated.plus[-3:] == ["d2026-12-01", "d2026-12-02", "d2026-12-03"]


def test_a_folder_that_read_while_others_folded_writes_nothing() -> None:
    """Replica B reads a batch; meanwhile replica A folds several: B's fold number is taken
    (numbers are never freed) or the head moved, so B writes nothing and nothing counts
    twice."""
    rng = random.Random(13)
    store = MemoryTaskStore()
    for n in range(60):
        put(store, a_task(rng, n))
    real = store.load_cells
    ran: list[int] = []

    def meanwhile(ids: list[str], mapper: Any = map) -> dict[str, Document]:
        if not ran:
            ran.append(1)
            statsfold.fold_all(store, lambda: NOW, limit=10)  # A folds everything, in six
        return real(ids, mapper)

    store.load_cells = meanwhile  # type: ignore[method-assign]
    assert statsfold.fold(store, NOW, limit=20) == 0
    store.load_cells = real  # type: ignore[method-assign]
    assert store.queued_stats(10) == []
    same(store, rng)


def test_a_writer_taken_over_mid_fold_writes_no_more() -> None:
    """A writer silent too long after its first request: another finishes its fold and
    folds later changes into the same cells; the first writes none of the rest over them."""
    rng = random.Random(17)
    store = MemoryTaskStore()
    tasks = [a_task(rng, n) for n in range(80)]
    for task in tasks:
        put(store, task)
    real = store.write_cells
    calls: list[int] = []

    def taken_over(changes: Any, fold: int) -> None:
        calls.append(fold)
        real(changes, fold)
        if len(calls) == 1:
            for task in tasks:  # every task changes meanwhile, and another folds it all
                changed = a_task(rng, int(task["_id"][3:]))
                changed["rev"] = task["rev"]
                task.clear()
                task.update(changed)
                put(store, task)
            statsfold.fold_all(store, lambda: NOW + statsfold.TAKEOVER * 2)

    store.write_cells = taken_over  # type: ignore[method-assign]
    statsfold.fold(store, NOW, limit=80)
    store.write_cells = real  # type: ignore[method-assign]
    assert calls[0] == 1
    assert calls.count(1) > 2  # the first fold wrote more than one request (the taker's too)
    same(store, rng)


def test_a_create_that_stops_before_its_first_event_is_on_the_board_all_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = seeded()

    def stops(*_args: Any, **_kwargs: Any) -> Document:
        raise RuntimeError("the worker stopped here")

    monkeypatch.setattr(journal, "record", stops)
    creating = work(store, as_(HOTLINE, "create_task"), NOW)
    with pytest.raises(RuntimeError):
        lifecycle.create_task(creating, {"title": "占道经营", "category": "city_management"})
    statsfold.fold_all(store, lambda: NOW)
    board = Board(reach="C/HP")
    listed = store.board(board)
    assert [t["status"] for t in listed] == ["created"]
    found = queries._from_read_model(store, board)
    assert found is not None
    assert [t["_id"] for t in found] == [listed[0]["_id"]]


def test_changes_no_event_queued_are_counted_after_the_reconciliation() -> None:
    """As an older process still running in a rolling deploy leaves them: written, not queued."""
    rng = random.Random(11)
    store = MemoryTaskStore()
    tasks = [a_task(rng, n) for n in range(60)]
    for task in tasks[:50]:
        put(store, task)
    statsfold.fold_all(store, lambda: NOW)
    assert statsfold.reconcile(store) == 0
    for task in tasks[50:]:  # created by the older process
        store._put("tasks", {**task, "rev": 1})
    changed = {**a_task(rng, 3), "rev": 7}  # changed by it
    store._put("tasks", changed)
    store._delete("tasks", tasks[4]["_id"])  # removed by it
    assert statsfold.reconcile(store) == 12
    statsfold.fold_all(store, lambda: NOW)
    same(store, rng)
    assert statsfold.reconcile(store) == 0


def test_the_periodic_reconciliation_runs_once_a_period_whichever_replica_looks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two replicas look six times an hour each: one of them reconciles, once that hour;
    its entries are sent a few at a time as it reads (here 4 at once), none lost."""
    monkeypatch.setattr(statsfold, "RECONCILE_FLUSH", 4)
    rng = random.Random(19)
    store = MemoryTaskStore()
    for n in range(10):  # written, never queued
        store._put("tasks", {**a_task(rng, n), "rev": 1})
    sent: list[int] = []
    real = store.queue_stats_many

    def counted(entries: list[Document]) -> int:
        sent.append(len(entries))
        return real(entries)

    monkeypatch.setattr(store, "queue_stats_many", counted)
    hour = timedelta(hours=1)
    start = NOW.replace(minute=0, second=0, microsecond=0)
    looks = [start + timedelta(minutes=m) for m in (1, 3, 11, 13, 21, 23, 31, 33, 41, 51, 59)]
    ran = [statsfold.reconcile_once_per(store, at, hour) for at in looks]
    assert [r for r in ran if r is not None] == [10]
    assert sent == [4, 4, 2]
    assert statsfold.reconcile_once_per(store, start + hour, hour) == 0  # the next hour: again
    statsfold.fold_all(store, lambda: NOW)
    same(store, rng)


def test_a_period_starting_inside_a_day_reads_only_that_days_tasks_after_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = random.Random(5)
    store = MemoryTaskStore()
    day = (NOW - timedelta(days=3)).astimezone(CST).replace(hour=0, minute=0, second=0)
    for n in range(48):  # one every half hour of that day
        task = {
            **a_task(rng, n),
            "holders": ["C/HP"],
            "dispatched_at": day + timedelta(minutes=30 * n),
        }
        put(store, task)
    statsfold.fold_all(store, lambda: NOW)
    read: list[str] = []
    load_task = store.load_task

    def counting(task_id: str) -> Document | None:
        read.append(task_id)
        return load_task(task_id)

    monkeypatch.setattr(store, "load_task", counting)
    start = (day + timedelta(hours=20)).isoformat()  # 20:00: the last eight of the day
    assert ask(store, "C", start, None)["received"] == 8
    assert sorted(read) == [f"tk_{n:05d}" for n in range(40, 48)]


def test_overdue_is_right_to_the_millisecond_within_the_hour_asked() -> None:
    """Deadlines around the moment asked (9:30): before it, at it, after it, in this hour, at
    its start, and in the hours either side; in every period and every row."""
    rng = random.Random(13)
    store = MemoryTaskStore()
    deadlines = [
        timedelta(minutes=-30),  # 9:00, the hour's first instant
        timedelta(minutes=-30, milliseconds=-1),  # the last of the hour before
        timedelta(minutes=-20),
        timedelta(milliseconds=-1),
        timedelta(),  # due now: not overdue yet
        timedelta(minutes=10),
        timedelta(minutes=30),  # 10:00, the next hour
    ]
    number = 0
    for _round in range(4):
        for offset in deadlines:
            task = a_task(rng, number)
            task.update(status="in_progress", completed_at=None, on_time=None, due_at=NOW + offset)
            task["working_minutes"] = None
            put(store, task)
            number += 1
    for _n in range(40):
        put(store, a_task(rng, number))
        number += 1
    same(store, rng)  # all queued, counted by the question itself
    statsfold.fold_all(store, lambda: NOW)
    same(store, rng)
    found = ask(store, "C", None, None)
    total, _rows = expected(store, "C", None, None)
    assert found["overdue"] == total["overdue"]
    assert found["overdue"] >= 4 * 4  # at least the four of each round due before 9:30


def test_a_deadline_a_fraction_of_a_millisecond_ago_is_overdue() -> None:
    """Deadlines are kept to the millisecond: one at 9:30:00.000 asked about at
    9:30:00.000500 has passed."""
    rng = random.Random(23)
    store = MemoryTaskStore()
    task = a_task(rng, 1)
    task.update(status="in_progress", completed_at=None, on_time=None, due_at=NOW)
    task["working_minutes"] = None
    put(store, task)
    statsfold.fold_all(store, lambda: NOW)
    later = NOW + timedelta(microseconds=500)
    holder = task["holders"][0]
    asked = unit_stats(work(store, as_(SUPERVISOR, "unit_stats"), later), holder, None, None)
    assert asked["overdue"] == 1
    now = unit_stats(work(store, as_(SUPERVISOR, "unit_stats"), NOW), holder, None, None)
    assert now["overdue"] == 0
