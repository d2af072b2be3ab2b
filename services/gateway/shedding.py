"""Refuse early what this process cannot serve in time: with ``limit`` requests already in
flight, the next one is answered 503 with ``Retry-After`` at once instead of waiting behind
the others until its RPCs time out. A metro gate that gets a quick 503 checks the code
offline (it is signed); one that waits holds up the queue. Probes and metrics are never
refused: an overloaded process is busy, not dead."""

from __future__ import annotations

from prometheus_client import Counter, Gauge
from starlette.types import ASGIApp, Receive, Scope, Send

from services.gateway.problems import problem

SHED = Counter("gateway_shed_total", "Requests refused because too many were in flight")
IN_FLIGHT = Gauge("gateway_requests_in_flight", "Requests this process is serving")
NEVER_SHED = frozenset({"/healthz", "/readyz", "/metrics"})


class LoadSheddingMiddleware:
    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit  # 0: no limit
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in NEVER_SHED:
            await self.app(scope, receive, send)
            return
        if self.limit and self.in_flight >= self.limit:
            SHED.inc()
            busy = problem(
                503,
                "Busy",
                "the service has too many requests in hand; try again in a moment",
                "busy",
                headers={"Retry-After": "1"},
            )
            await busy(scope, receive, send)
            return
        self.in_flight += 1
        IN_FLIGHT.inc()
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
            IN_FLIGHT.dec()
