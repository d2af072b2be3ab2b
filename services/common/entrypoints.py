"""The RPC entrypoint the services declare: nameko's own, except for two things.

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
from typing import Any

import amqp.exceptions
import kombu.exceptions
from nameko.rpc import Rpc, RpcConsumer
from pymongo.errors import ConnectionFailure

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


class ResilientRpc(Rpc):  # type: ignore[misc]
    rpc_consumer = ResilientRpcConsumer()


rpc = ResilientRpc.decorator
