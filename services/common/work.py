"""What every service's ``Work`` provider shares: the parts of a worker's work found among
what the service already declares.

A service's ``work.py`` defines its own frozen ``Work`` (the store, now, the call's guard and
what else its verbs need) and a nameko DependencyProvider built on :class:`WorkProvider`,
which finds the service's :class:`~services.common.mongo.MongoDatabase` and
:class:`~services.common.context.CallContext` when the container is set up: no second
database client, no second guard (the one the gate checked is the one a verb asks for).
Nothing is read while a worker is being set up (nameko stops the whole container, not the
call, when a dependency fails there): the guard is looked up when a verb first asks for it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from nameko.extensions import DependencyProvider

from services.common.access import Guard
from services.common.context import CallContext
from services.common.mongo import MongoDatabase

P = TypeVar("P")


def declared(container: Any, kind: type[P]) -> P:
    """The service's own dependency of ``kind`` (one of each is declared)."""
    for dependency in container.dependencies:
        if isinstance(dependency, kind):
            return dependency
    raise LookupError(f"{container.service_name} declares no {kind.__name__}")


class WorkProvider(DependencyProvider):  # type: ignore[misc]
    """The base of a service's ``Work`` provider: the worker's store (:meth:`store_of`) and
    its call's guard, asked for lazily (:meth:`guard_of`)."""

    def setup(self) -> None:
        self.stores = declared(self.container, MongoDatabase)
        self.calls = declared(self.container, CallContext)

    def store_of(self, worker_ctx: Any) -> Any:
        """The store the service's ``MongoDatabase`` hands this worker."""
        return self.stores.get_dependency(worker_ctx)

    def guard_of(self, worker_ctx: Any) -> Callable[[], Guard]:
        """The guard ``CallContext`` bound to this worker's call, when it is asked for
        (LookupError for a timer's or an event's worker: they have no caller)."""
        return functools.partial(self._guard, worker_ctx)

    def _guard(self, worker_ctx: Any) -> Guard:
        guard = self.calls.guard_of(worker_ctx)
        if guard is None:
            raise LookupError("only an RPC has an access guard")
        return guard
