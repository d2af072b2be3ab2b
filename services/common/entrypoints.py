"""The entrypoints the services declare: nameko's own, with the access gate and two repairs.

- **The gate.** Before a worker is spawned, the call's context must be signed
  (:mod:`services.common.bus_identity`) and the service's access table must name the
  operation and admit the caller (:func:`services.common.access.admit`); otherwise the caller
  is answered with the refusal and no code of the service runs. After the worker, an
  operation whose rule names a resource but that never asked its guard is answered as the bug
  it is (:class:`~services.common.access.AccessNotChecked`), not with its result.
- When the broker goes away while a worker is busy, nameko fails to publish the reply and
  kills the whole container, so one broker restart takes every service that was
  mid-request down with it (seen in the fault tests). Here that reply is dropped with a
  warning instead: the caller has already been answered 503 / 504 by its own timeout, and
  the request, never acknowledged, is redelivered by RabbitMQ once the connection is back
  (every state change is idempotent or compare-and-set, so a second delivery changes
  nothing twice).
- A database that cannot be reached is an :class:`Unavailable` (503 with Retry-After at the
  gateway), not a bug (500): the caller should simply ask again."""

from __future__ import annotations

import logging
import sys
from typing import Any

import amqp.exceptions
import kombu.exceptions
from nameko.exceptions import MalformedRequest
from nameko.rpc import Rpc, RpcConsumer
from pymongo.errors import ConnectionFailure

from services.common.access import AccessNotChecked
from services.common.context import CallContext
from services.common.errors import Unavailable

log = logging.getLogger(__name__)
BROKER_GONE = (kombu.exceptions.OperationalError, amqp.exceptions.ConnectionError, OSError)


class ResilientRpcConsumer(RpcConsumer):  # type: ignore[misc]
    def handle_result(self, message: Any, result: Any, exc_info: Any) -> tuple[Any, Any]:
        if exc_info is not None and isinstance(exc_info[1], ConnectionFailure):
            unreachable = Unavailable("the database cannot be reached now; retry shortly")
            exc_info = (Unavailable, unreachable, exc_info[2])
        try:
            replied: tuple[Any, Any] = super().handle_result(message, result, exc_info)
        except BROKER_GONE as exc:
            log.warning(
                "reply lost: the broker is unreachable; the request will be redelivered",
                extra={"error": type(exc).__name__},
            )
            return result, exc_info
        return replied


def call_context_of(container: Any) -> CallContext:
    for dependency in container.dependencies:
        if isinstance(dependency, CallContext):
            return dependency
    raise LookupError(f"{container.service_name} declares no CallContext (its access table)")


class GuardedRpc(Rpc):  # type: ignore[misc]
    rpc_consumer = ResilientRpcConsumer()

    def handle_message(self, body: Any, message: Any) -> None:
        try:
            args, kwargs = body["args"], body["kwargs"]
        except (KeyError, TypeError) as exc:
            raise MalformedRequest("Message missing `args` or `kwargs`") from exc
        self.check_signature(args, kwargs)
        context_data = self.unpack_message_headers(message)
        correlation_id = (message.properties or {}).get("correlation_id")
        call_context_of(self.container).admit(self.method_name, context_data, body, correlation_id)
        super().handle_message(body, message)

    def handle_result(
        self, message: Any, worker_ctx: Any, result: Any, exc_info: Any
    ) -> tuple[Any, Any]:
        guard = call_context_of(self.container).guard_of(worker_ctx)
        if exc_info is None and guard is not None and guard.rule.resource and not guard.checked:
            log.error("access not checked", extra={"operation": guard.operation})
            try:
                raise AccessNotChecked(f"{guard.operation} answered without asking its guard")
            except AccessNotChecked:
                exc_info, result = sys.exc_info(), None
        return super().handle_result(message, worker_ctx, result, exc_info)  # type: ignore[no-any-return]


rpc = GuardedRpc.decorator
