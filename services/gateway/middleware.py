"""Per-request context: a request id (taken from ``X-Request-ID`` when it is sane), an access
log line in JSON, an audit entry, and where the caller stands against a rate limit the
request was counted under (on every answer, errors included). A plain ASGI middleware, so
the context variables it sets are visible to the error handlers outside it."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.codec import utcnow
from services.common.logs import log_fields, request_id_var
from services.gateway import metrics

log = logging.getLogger("gateway.access")
_SANE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}\Z")


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _SANE_ID.match(incoming) else uuid.uuid4().hex
        request_id_var.set(request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.monotonic()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = message.setdefault("headers", [])
                headers.append((b"x-request-id", request_id.encode()))
                counted = scope["state"].get("rate_limit_headers") or {}
                headers.extend((k.lower().encode(), v.encode()) for k, v in counted.items())
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self._record(scope, status, started, request_id)

    @staticmethod
    def _record(scope: Scope, status: int, started: float, request_id: str) -> None:
        elapsed = time.monotonic() - started
        elapsed_ms = round(elapsed * 1000, 2)
        state: dict[str, Any] = scope.get("state", {})
        path = scope["path"]
        route = getattr(scope.get("route"), "path", "unmatched")
        metrics.REQUESTS.labels(scope["method"], route, str(status)).inc()
        metrics.REQUEST_SECONDS.labels(scope["method"], route).observe(elapsed)
        log.info(
            "request",
            extra=log_fields(method=scope["method"], path=path, status=status, ms=elapsed_ms),
        )
        audit = state.get("audit")
        if audit is not None and not path.startswith(("/static", "/healthz")):
            audit.record(
                {
                    "time": utcnow(),
                    "request_id": request_id,
                    "method": scope["method"],
                    "path": path,
                    "status": status,
                    "ms": elapsed_ms,
                    "actor": state.get("actor_id"),
                    "client_id": state.get("client_id"),
                }
            )
