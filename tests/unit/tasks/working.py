"""A verb's :class:`~services.tasks.work.Work` in the tests: a store, a guard, a moment, and
every org unit taken to exist (there is no identity service to ask)."""

from __future__ import annotations

from datetime import datetime

from services.common.access import Guard
from services.tasks.calendar import WorkCalendar
from services.tasks.store import TaskStore
from services.tasks.work import Work


def work(
    store: TaskStore, guard: Guard, now: datetime, calendar: WorkCalendar | None = None
) -> Work:
    """Without ``calendar``, the store's, read for ``now`` when a verb first asks for it."""
    return Work.of(store, guard, now, calendar=calendar, unit_exists=lambda _unit: True)
