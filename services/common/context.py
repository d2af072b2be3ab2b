"""The nameko side of a call's context: who is acting and which request this is.

``CallContext`` reads the ``nameko.actor`` and ``nameko.request_id`` headers the gateway
sends (nameko strips the ``nameko.`` prefix into ``worker_ctx.data`` and forwards them on
nested calls and events), puts the request id and call id stack into the log context, and
logs every call's outcome and duration as one JSON line, and counts it in the service's
metrics (``services.common.metrics``).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from nameko.extensions import DependencyProvider

from services.common.actor import Actor
from services.common.errors import DomainError
from services.common.logs import call_id_stack_var, log_fields, request_id_var
from services.common.metrics import record_call

log = logging.getLogger("services.calls")


@dataclass(frozen=True)
class Call:
    actor: Actor
    request_id: str | None


def request_id_of(worker_ctx: Any) -> str | None:
    """The request this worker serves: from the call's headers, or, for an event relayed
    from an outbox by a timer (whose own worker serves no request), from the event."""
    found = worker_ctx.data.get("request_id")
    if found is None and worker_ctx.args and isinstance(worker_ctx.args[0], dict):
        carried = worker_ctx.args[0].get("request_id")
        found = carried if isinstance(carried, str) else None
    return found if isinstance(found, str) or found is None else str(found)


class CallContext(DependencyProvider):  # type: ignore[misc]
    def __init__(self) -> None:
        self._started: dict[Any, float] = {}

    def get_dependency(self, worker_ctx: Any) -> Call:
        return Call(
            actor=Actor.from_header(worker_ctx.data.get("actor")),
            request_id=request_id_of(worker_ctx),
        )

    def worker_setup(self, worker_ctx: Any) -> None:
        request_id_var.set(request_id_of(worker_ctx))
        call_id_stack_var.set(tuple(worker_ctx.call_id_stack or ()))
        self._started[worker_ctx] = time.monotonic()

    def worker_result(self, worker_ctx: Any, result: Any = None, exc_info: Any = None) -> None:
        started = self._started.pop(worker_ctx, None)
        elapsed = time.monotonic() - started if started else 0.0
        elapsed_ms = round(elapsed * 1000, 2) if started else None
        method = worker_ctx.entrypoint.method_name
        record_call(self.container.service_name, method, elapsed, exc_info and exc_info[1])
        if exc_info is None:
            log.info("call ok", extra=log_fields(method=method, ms=elapsed_ms))
        elif isinstance(exc_info[1], DomainError):
            log.info(
                "call refused",
                extra=log_fields(method=method, ms=elapsed_ms, error=type(exc_info[1]).__name__),
            )
        else:
            log.error("call failed", exc_info=exc_info, extra=log_fields(method=method))
