"""What a verb of the policy service works with: one :class:`Work` per worker.

A verb reads ``feeds.put_facts(work, subject, values, valid_until)``: the store, the moment
the worker started, the caller's guard (from the access table), what the service asks of
identity (a subject's brief, the listing of subjects), the payment partner and the clock a
long run keeps its lease by come in ``work``, the call's own arguments after it.

:class:`PolicyWork`, the nameko DependencyProvider, builds it from what the service already
declares (:class:`~services.common.work.WorkProvider`): the store of its ``MongoDatabase``,
the guard its ``CallContext`` bound to the call, its ``identity`` proxy. Nothing is read
while a worker is being set up: identity is asked, and the guard looked up, when a verb
first needs them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from services.common.access import Guard
from services.common.codec import utcnow
from services.common.document import Document
from services.common.errors import NotFound
from services.common.work import WorkProvider
from services.policy import payment
from services.policy.store import PolicyStore

Lookup = Callable[[str], dict[str, Any] | None]  # identity's brief of a subject, or None
Profile = dict[str, Any]
ProfilesAfter = Callable[[str, int], list[Profile]]  # identity's listing: (after, limit)
# disburse(payout) → ("paid", payment id) | ("accepted", payment id) | ("failed", reason)
Disburse = Callable[[Document], tuple[str, str]]
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Work:
    """The store, now, the caller's guard, identity's lookups, the payment partner and the
    clock.

    ``guard`` is asked for when a verb needs it (``guard_of``): a timer or an event has no
    caller. ``clock`` reads the time as a verb goes (a payout run renews its lease by it);
    ``now`` stays the moment the worker started."""

    store: PolicyStore
    now: datetime
    guard_of: Callable[[], Guard]
    lookup: Lookup
    profiles_after: ProfilesAfter
    disburse: Disburse
    clock: Clock

    @classmethod
    def of(
        cls,
        store: PolicyStore,
        guard: Guard,
        now: datetime,
        *,
        lookup: Lookup,
        profiles_after: ProfilesAfter,
        disburse: Disburse,
        clock: Clock | None = None,
    ) -> Work:
        """A Work of given parts (a test, a bench); without ``clock``, time stands at
        ``now``."""
        return cls(
            store=store,
            now=now,
            guard_of=lambda: guard,
            lookup=lookup,
            profiles_after=profiles_after,
            disburse=disburse,
            clock=clock or (lambda: now),
        )

    @property
    def guard(self) -> Guard:
        """The access table bound to the call (LookupError for a timer's or an event's)."""
        return self.guard_of()


class PolicyWork(WorkProvider):
    """Hands each worker one :class:`Work` over the service's store, call context and
    ``identity`` proxy (the attribute ``identity`` names), paying through ``disburse`` and
    keeping time by ``clock``."""

    def __init__(
        self,
        identity: str = "identity",
        disburse: Disburse = payment.to_partner,
        clock: Clock = utcnow,
    ) -> None:
        self.identity = identity
        self.disburse = disburse
        self.clock = clock

    def get_dependency(self, worker_ctx: Any) -> Work:
        return Work(
            store=cast(PolicyStore, self.store_of(worker_ctx)),
            now=self.clock(),
            guard_of=self.guard_of(worker_ctx),
            lookup=functools.partial(self._brief_of, worker_ctx),
            profiles_after=functools.partial(self._profiles_after, worker_ctx),
            disburse=self.disburse,
            clock=self.clock,
        )

    def _brief_of(self, worker_ctx: Any, subject: str) -> dict[str, Any] | None:
        """identity's brief of a subject (None: identity knows no such subject)."""
        try:
            brief: dict[str, Any] = self._identity(worker_ctx).subject_brief(subject_id=subject)
        except NotFound:
            return None
        return brief

    def _profiles_after(self, worker_ctx: Any, after: str, limit: int) -> list[Profile]:
        """identity's listing of subjects: the next ``limit`` after ``after``."""
        return list(self._identity(worker_ctx).subject_profiles(after=after, limit=limit))

    def _identity(self, worker_ctx: Any) -> Any:
        """The service's identity proxy, as the worker has it."""
        return getattr(worker_ctx.service, self.identity)
