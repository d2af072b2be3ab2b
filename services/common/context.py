"""The nameko side of a call's context: who is acting, who sent the call, which request
this is, and the access table's guard for the operation.

``CallContext(table, links)`` is declared once by each service. It

* verifies the signed ``nameko.caller`` and ``nameko.actor`` headers
  (:mod:`services.common.bus_identity`) and, for the RPC entrypoint, admits or refuses the
  call by the service's access table before any worker runs (:meth:`admit`);
* hands each worker a :class:`Call`: the verified actor, the caller, the request id and a
  :class:`~services.common.access.Guard` bound to the operation;
* signs this service's own identity into the calls a worker makes in turn, and drops the
  user of an event or a timer's worker (those act as the service itself);
* puts the request id and call id stack into the log context, logs every call's outcome and
  duration as one JSON line, and counts it in the service's metrics.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nameko.extensions import DependencyProvider
from nameko.rpc import Rpc

from services.common.access import NO_LINKS, AccessTable, Answer, Guard, Links, admit, refuse
from services.common.actor import Actor
from services.common.bus_identity import BusKeys, BusRefused
from services.common.errors import DomainError, Forbidden
from services.common.logs import call_id_stack_var, log_fields, request_id_var
from services.common.metrics import record_call

log = logging.getLogger("services.calls")
LinksOf = Callable[[Any, Actor], Links]


@dataclass(frozen=True)
class Call:
    actor: Actor
    caller: str | None
    request_id: str | None
    guard_or_none: Guard | None

    @property
    def guard(self) -> Guard:
        if self.guard_or_none is None:
            raise LookupError("only an RPC has an access guard")
        return self.guard_or_none


def request_id_of(worker_ctx: Any) -> str | None:
    """The request this worker serves: from the call's headers, or, for an event relayed
    from an outbox by a timer (whose own worker serves no request), from the event."""
    found = worker_ctx.data.get("request_id")
    if found is None and worker_ctx.args and isinstance(worker_ctx.args[0], dict):
        carried = worker_ctx.args[0].get("request_id")
        found = carried if isinstance(carried, str) else None
    return found if isinstance(found, str) or found is None else str(found)


def no_links(_worker_ctx: Any, _actor: Actor) -> Links:
    return NO_LINKS


def links_from_identity(worker_ctx: Any, _actor: Actor) -> Links:
    """Ask identity (the service's ``identity`` RpcProxy) what the forwarded user holds."""
    return Links.from_wire(worker_ctx.service.identity.links_for())


class CallContext(DependencyProvider):  # type: ignore[misc]
    def __init__(self, table: AccessTable, links: LinksOf = no_links) -> None:
        self.table = table
        self.links = links
        self._started: dict[Any, float] = {}
        self._guards: dict[Any, Guard] = {}

    def setup(self) -> None:
        self.keys = BusKeys.from_config(self.container.config, self.container.service_name)

    # the gate, before a worker exists

    def admit(
        self, operation: str, context_data: dict[str, Any], body: Any, correlation_id: Any
    ) -> None:
        """Refuse a call that is not sealed for exactly this message, that the table does not
        name, or whose caller the rule does not admit; nothing of the service runs for it."""
        rule = self.table.rule(operation)
        try:
            caller = self.keys.open_call(
                context_data.get("caller"),
                f"{self.container.service_name}.{operation}",
                correlation_id,
                body,
                context_data.get("actor"),
            )
            actor = self.keys.actor_of(context_data.get("actor"))
        except BusRefused:
            log.warning("call refused: unsigned", extra=log_fields(method=operation))
            raise
        if rule is None:
            log.error("call refused: no access rule", extra=log_fields(method=operation))
            raise Forbidden(f"{self.table.service}.{operation} has no access rule")
        answer = admit(rule, actor, caller)
        if answer is not Answer.ALLOW:
            refuse(answer, rule, actor)

    # what a worker gets

    def get_dependency(self, worker_ctx: Any) -> Call:
        is_rpc = isinstance(worker_ctx.entrypoint, Rpc)
        actor, caller = Actor(), None
        guard = None
        if is_rpc:
            caller = self.keys.caller_of(worker_ctx.data.get("caller"))
            actor = self.keys.actor_of(worker_ctx.data.get("actor")) or Actor()
            operation = worker_ctx.entrypoint.method_name
            rule = self.table.rule(operation)
            assert rule is not None  # admitted by the gate
            guard = Guard(
                self.table,
                operation,
                rule,
                actor,
                caller,
                lambda who: self.links(worker_ctx, who),
            )
            self._guards[worker_ctx] = guard
        return Call(
            actor=actor, caller=caller, request_id=request_id_of(worker_ctx), guard_or_none=guard
        )

    def guard_of(self, worker_ctx: Any) -> Guard | None:
        return self._guards.get(worker_ctx)

    def worker_setup(self, worker_ctx: Any) -> None:
        if not isinstance(worker_ctx.entrypoint, Rpc):
            worker_ctx.data.pop("actor", None)  # an event or a timer acts as the service itself
        request_id_var.set(request_id_of(worker_ctx))
        call_id_stack_var.set(tuple(worker_ctx.call_id_stack or ()))
        self._started[worker_ctx] = time.monotonic()

    def worker_result(self, worker_ctx: Any, result: Any = None, exc_info: Any = None) -> None:
        self._guards.pop(worker_ctx, None)
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
