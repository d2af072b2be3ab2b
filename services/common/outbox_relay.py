"""A worker's events leave right after it has answered: the dependency notes what the
worker staged in the outbox and relays exactly those once the reply is sent (nameko calls
``worker_result`` after the entrypoint has handled the result). An event therefore reaches
its consumers in milliseconds, as a dispatch after the write did, while the outbox keeps
what a worker killed in between would have lost: the service's timer relays it.

``OUTBOX_RELAY_AFTER_WORK=0`` leaves every event to the timer (fewer round trips under a
heavy load, at up to ``OUTBOX_RELAY_SECONDS`` of latency; the fault test uses it to kill a
service in the gap between its change and its event)."""

from __future__ import annotations

import logging
import os
from contextvars import Token
from typing import Any

from nameko.extensions import DependencyProvider

from services.common import outbox
from services.common.codec import utcnow
from services.common.mongo import database_of

log = logging.getLogger(__name__)
AFTER_WORK = os.environ.get("OUTBOX_RELAY_AFTER_WORK", "1") != "0"


class OutboxRelay(DependencyProvider):  # type: ignore[misc]
    """On a service with a ``db`` (MongoDatabase) and a ``dispatch`` (the event dispatcher)."""

    def setup(self) -> None:
        # Not in worker_ctx.data: that travels as headers of the worker's own calls.
        self.tokens: dict[int, Token[list[str] | None]] = {}

    def get_dependency(self, worker_ctx: Any) -> None:
        return None

    def worker_setup(self, worker_ctx: Any) -> None:
        if not AFTER_WORK:
            return
        self.tokens[id(worker_ctx)] = outbox.staged_here.set([])

    def worker_result(self, worker_ctx: Any, result: Any = None, exc_info: Any = None) -> None:
        staged = outbox.staged_here.get()
        if not staged:
            return
        service = worker_ctx.service
        try:
            outbox.relay(database_of(service), service.dispatch, utcnow(), only=list(staged))
        except Exception:  # an error here would stop the container: the timer sends them
            log.warning("the outbox will relay %s later", staged, exc_info=True)

    def worker_teardown(self, worker_ctx: Any) -> None:
        token = self.tokens.pop(id(worker_ctx), None)
        if token is not None:
            outbox.staged_here.reset(token)
