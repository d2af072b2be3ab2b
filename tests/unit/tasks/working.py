"""What the tasks unit tests share: a seeded in-memory store, the demo city's hotline and
street staff, their guards, and a verb's :class:`~services.tasks.work.Work` (a store, a
guard, a moment, every org unit taken to exist: there is no identity service to ask)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.common.access import Guard, acting_as
from services.common.actor import Actor
from services.tasks import access, ladder
from services.tasks import sources as task_sources
from services.tasks.calendar import WorkCalendar
from services.tasks.store import TaskStore
from services.tasks.work import Work
from tests.unit.tasks.memory_store import MemoryTaskStore

HOTLINE = Actor(account_id="acc_hotline", roles=("staff",), org_path="C/HP", name="12345")
STREET = Actor(account_id="acc_nh", roles=("staff",), org_path="C/HP/NH", name="南湖")


def seeded() -> MemoryTaskStore:
    """An empty store with the seeds the service writes at start (sources, the ladder)."""
    made = MemoryTaskStore()
    task_sources.seed(made, {})
    ladder.seed(made, {})
    return made


def as_(actor: Actor, operation: str) -> Any:
    return acting_as(access.TABLE, operation, actor)


def work(
    store: TaskStore, guard: Guard, now: datetime, calendar: WorkCalendar | None = None
) -> Work:
    """Without ``calendar``, the store's, read for ``now`` when a verb first asks for it."""
    return Work.of(store, guard, now, calendar=calendar, unit_exists=lambda _unit: True)
