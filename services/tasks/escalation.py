"""The escalation sweep: warning → yellow card → red card, each once per deadline.

A nameko timer calls :func:`sweep` every few seconds. It reads only the schedule's hours
that have begun (see :mod:`services.tasks.schedule`), in bounded batches, and raises each
task's card through its journal: two sweepers, or a rerun after a crash, find the card
already raised (or lose the journal insert) and do nothing. The card a task shows never goes
down for the same deadline; a new deadline (after a rollback and a new dispatch) starts the
ladder again. Notices for the receiving unit and the supervisors of its parent unit wait for
working hours; the card itself falls due on the clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric

from services.common.document import Document
from services.common.errors import Conflict
from services.tasks import journal, schedule
from services.tasks.calendar import WorkCalendar
from services.tasks.ladder import RANK
from services.tasks.lifecycle import notices_to
from services.tasks.store import TaskStore

# While the task sits with a unit (returned or in arbitration, the clock is the dispatcher's
# and a new dispatch starts a new deadline).
ESCALATING = frozenset(
    {"dispatched", "accepted", "in_progress", "feedback_submitted", "feedback_rejected"}
)
CARD_NAMES = {"warning": "预警", "yellow": "黄牌", "red": "红牌"}


@dataclass
class SweepReport:
    escalated: list[tuple[str, str]] = field(default_factory=list)
    stale: int = 0
    max_lag_s: float = 0.0

    @property
    def count(self) -> int:
        return len(self.escalated)


# How a sweep runs its batch: the builtin ``map`` one after another, or a pool's ``imap``
# (the service passes an eventlet GreenPool's, so database round trips overlap).
Mapper = Callable[[Callable[[Any], bool], Iterable[Any]], Iterable[bool]]


def sweep(
    store: TaskStore,
    now: datetime,
    calendar: WorkCalendar,
    batch: int = 1000,
    mapper: Mapper = map,
) -> SweepReport:
    report = SweepReport()
    while True:
        entries = schedule.due_entries(store, now, batch)

        def one(item: tuple[str, Document]) -> bool:
            bucket, entry = item
            raised = escalate(store, entry, now, calendar)
            schedule.done(store, bucket, entry["_id"])
            return raised

        for (_bucket, entry), raised in zip(entries, mapper(one, entries), strict=True):
            if raised:
                report.escalated.append((entry["task"], entry["card"]))
                report.max_lag_s = max(report.max_lag_s, (now - entry["at"]).total_seconds())
            else:
                report.stale += 1
        if len(entries) < batch:
            return report


def escalate(store: TaskStore, entry: Document, now: datetime, calendar: WorkCalendar) -> bool:
    """Raise the task's card to the entry's; False when nothing was left to do."""
    for _attempt in range(5):
        task = journal.load(store, entry["task"])
        if (
            task is None
            or task["status"] not in ESCALATING
            or int(task.get("deadline", 0)) != int(entry["deadline"])
            or RANK[task.get("card", "none")] >= RANK[entry["card"]]
        ):
            return False
        try:
            # No card is skipped: a lower card of the ladder not raised yet (yellow, when
            # yellow and red fall due together and red's entry came first) is raised first.
            for rung in _cards_up_to(task, entry):
                task = _raise(store, task, rung, now, calendar)
            return True
        except Conflict:
            continue  # someone acted on the task at the same moment: look again
    return False


def _cards_up_to(task: Document, entry: Document) -> list[Document]:
    """The rungs to raise for ``entry``, lowest first: those above the task's card and below
    the entry's, then the entry's own."""
    held = RANK[task.get("card", "none")]
    below = [
        {"card": r["card"], "at": r["at"]}
        for r in task.get("ladder", [])
        if held < RANK[r["card"]] < RANK[entry["card"]]
    ]
    return [
        *sorted(below, key=lambda r: RANK[r["card"]]),
        {"card": entry["card"], "at": entry["at"]},
    ]


def _raise(
    store: TaskStore, task: Document, rung: Document, now: datetime, calendar: WorkCalendar
) -> Document:
    later = [r for r in task.get("ladder", []) if RANK[r["card"]] > RANK[rung["card"]]]
    receiver = task.get("receiver")
    parent = receiver.rsplit("/", 1)[0] if receiver and "/" in receiver else None
    text = f"{CARD_NAMES[rung['card']]}：{task['title']}"
    # The receiving unit, and the supervisors of its parent unit.
    notices = [
        n
        for unit in (receiver, parent)
        for n in notices_to(unit, rung["card"], text, rung["at"], calendar)
    ]
    raised: Document = journal.record(
        store,
        task,
        now,
        None,
        "escalate",
        None,
        {
            "card": rung["card"],
            "card_at": rung["at"],
            "cards": [*task.get("cards", []), {"card": rung["card"], "at": rung["at"]}],
            "next_escalation_at": later[0]["at"] if later else None,
        },
        effects={"notices": notices},
        card=rung["card"],
        due_at=task.get("due_at"),
        scheduled_at=rung["at"],
    )
    return raised


def record_sweep(store: TaskStore, now: datetime, report: SweepReport) -> None:
    """What the last sweep did, for the metrics."""
    store.record_sweep(
        {"at": now, "escalated": report.count, "stale": report.stale, "lag_s": report.max_lag_s}
    )


def gauges(store: TaskStore) -> Iterator[Metric]:
    """The escalation sweep: how late it raised its latest card, how many it raised, and how
    long ago it last ran (growing without end when no replica sweeps any more)."""
    found = store.last_sweep()
    yield GaugeMetricFamily(
        "tasks_escalation_lag_seconds",
        "How late the last sweep raised its latest card",
        value=float(found.get("lag_s", 0.0)),
    )
    yield GaugeMetricFamily(
        "tasks_escalations_last_sweep",
        "Cards raised by the last sweep",
        value=float(found.get("escalated", 0)),
    )
    last = found.get("at")
    if last is not None:
        age = (datetime.now(UTC) - last.replace(tzinfo=UTC)).total_seconds()
        yield GaugeMetricFamily(
            "tasks_escalation_sweep_age_seconds", "Seconds since the last sweep", value=age
        )
