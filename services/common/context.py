"""The nameko side of a call's context: who is acting and which request this is.

``CallContext`` reads the ``nameko.actor`` and ``nameko.request_id`` headers the gateway
sends (nameko strips the ``nameko.`` prefix into ``worker_ctx.data`` and forwards them on
nested calls and events), puts the request id and call id stack into the log context, and
logs every call's outcome and duration as one JSON line.
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

log = logging.getLogger("services.calls")


@dataclass(frozen=True)
class Call:
    actor: Actor
    request_id: str | None


class CallContext(DependencyProvider):  # type: ignore[misc]
    def __init__(self) -> None:
        self._started: dict[Any, float] = {}

    def get_dependency(self, worker_ctx: Any) -> Call:
        return Call(
            actor=Actor.from_header(worker_ctx.data.get("actor")),
            request_id=worker_ctx.data.get("request_id"),
        )

    def worker_setup(self, worker_ctx: Any) -> None:
        request_id_var.set(worker_ctx.data.get("request_id"))
        call_id_stack_var.set(tuple(worker_ctx.call_id_stack or ()))
        self._started[worker_ctx] = time.monotonic()

    def worker_result(self, worker_ctx: Any, result: Any = None, exc_info: Any = None) -> None:
        started = self._started.pop(worker_ctx, None)
        elapsed_ms = round((time.monotonic() - started) * 1000, 2) if started else None
        method = worker_ctx.entrypoint.method_name
        if exc_info is None:
            log.info("call ok", extra=log_fields(method=method, ms=elapsed_ms))
        elif isinstance(exc_info[1], DomainError):
            log.info(
                "call refused",
                extra=log_fields(method=method, ms=elapsed_ms, error=type(exc_info[1]).__name__),
            )
        else:
            log.error("call failed", exc_info=exc_info, extra=log_fields(method=method))
