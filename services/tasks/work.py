"""What a verb of the tasks service works with: one :class:`Work` per worker.

A verb reads ``lifecycle.transfer_task(work, task_id, unit, due_at, reason)``: the store, the
caller's guard (from the access table), the moment the worker started, the working calendar
and the lookup of org units come in ``work``, the call's own arguments after it.

:class:`TaskWork`, the nameko DependencyProvider, builds it from what the service already
declares: the store of its ``MongoDatabase``, the guard its ``CallContext`` bound to the call,
its ``identity`` proxy. Nothing is read while a worker is being set up (nameko stops the
whole container, not the call, when a dependency fails there): the guard is looked up and
the calendar read from the store when a verb first asks for them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, TypeVar, cast

import eventlet

from services.common.access import Guard
from services.common.codec import utcnow
from services.common.errors import NotFound
from services.common.work import WorkProvider
from services.tasks import calendar
from services.tasks.calendar import WorkCalendar
from services.tasks.store import Mapper, TaskStore

UnitExists = Callable[[str], bool]
READS_AT_ONCE = 8  # reads by _id one worker sends at once
P = TypeVar("P")


@dataclass(frozen=True)
class Work:
    """The store, the caller's guard, now, the working calendar and the org unit lookup.

    ``guard`` and ``calendar`` are asked for when a verb needs them (``guard_of``,
    ``calendar_of``): a timer or an event has no caller, and most verbs count no deadline."""

    store: TaskStore
    now: datetime
    guard_of: Callable[[], Guard]
    calendar_of: Callable[[], WorkCalendar]
    unit_exists: UnitExists
    # runs reads of many documents by ``_id`` at once (a green pool in the service)
    mapper: Mapper = map

    @classmethod
    def of(
        cls,
        store: TaskStore,
        guard: Guard,
        now: datetime,
        *,
        calendar: WorkCalendar | None = None,
        unit_exists: UnitExists,
        mapper: Mapper = map,
    ) -> Work:
        """A Work of given parts (a test, a bench); without ``calendar``, the store's, read
        once for ``now`` when first asked for."""
        return cls(
            store=store,
            now=now,
            guard_of=lambda: guard,
            calendar_of=_loaded(store, now) if calendar is None else _fixed(calendar),
            unit_exists=unit_exists,
            mapper=mapper,
        )

    @property
    def guard(self) -> Guard:
        """The access table bound to the call (LookupError for a timer's or an event's)."""
        return self.guard_of()

    @property
    def calendar(self) -> WorkCalendar:
        """The working calendar as the store has it at ``now``."""
        return self.calendar_of()

    def acting_as(self, guard: Guard, *, unit_exists: UnitExists | None = None) -> Work:
        """The same work done by the service itself (an event's consequence), as ``guard``'s
        system actor; the calendar is the one already read, if it was."""
        return replace(self, guard_of=lambda: guard, unit_exists=unit_exists or self.unit_exists)


def _fixed(found: WorkCalendar) -> Callable[[], WorkCalendar]:
    return lambda: found


def _loaded(store: TaskStore, now: datetime) -> Callable[[], WorkCalendar]:
    return functools.cache(functools.partial(calendar.load, store, now))


class TaskWork(WorkProvider):
    """Hands each worker one :class:`Work` over the service's store, call context and
    ``identity`` proxy (the attribute ``identity`` names): no second database client, no
    second guard (the one the gate checks was asked)."""

    def __init__(self, identity: str = "identity") -> None:
        self.identity = identity

    def get_dependency(self, worker_ctx: Any) -> Work:
        store = cast(TaskStore, self.store_of(worker_ctx))
        now = utcnow()
        return Work(
            store=store,
            now=now,
            guard_of=self.guard_of(worker_ctx),
            calendar_of=_loaded(store, now),
            unit_exists=functools.partial(self._unit_exists, worker_ctx),
            mapper=eventlet.GreenPool(READS_AT_ONCE).imap,
        )

    def _unit_exists(self, worker_ctx: Any, path: str) -> bool:
        """Does identity know the org unit ``path``?"""
        try:
            getattr(worker_ctx.service, self.identity).get_org_unit(path=path)
        except NotFound:
            return False
        return True
