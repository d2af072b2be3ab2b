"""Liveness, readiness and each service's health through the bus."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from services.common.crypto import same
from services.common.errors import NotFound
from services.gateway import access, metrics
from services.gateway.access import operation
from services.gateway.deps import BusDep, CurrentActor, SettingsDep, StoreDep
from services.gateway.rpc import BrokerUnavailable, RemoteError, RpcClient, RpcTimeout
from services.gateway.security import SWAGGER_CDN
from services.gateway.settings import SERVICES, Settings

router = APIRouter(tags=["health"])


@router.get(
    "/healthz", summary="The gateway process is alive", openapi_extra=operation("gateway.healthz")
)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


async def _service_health(rpc: RpcClient, service: str, timeout: float) -> str:
    try:
        await rpc.call(service, "health", timeout=timeout)
    except BrokerUnavailable as exc:
        return f"unavailable: {exc}"
    except RpcTimeout:
        return "timeout"
    except RemoteError as exc:
        return f"error: {exc.detail}"
    return "ok"


async def _database_health(store: StoreDep, timeout: float) -> str:
    try:
        await asyncio.wait_for(store.ping(), timeout)
    except Exception as exc:
        return f"unavailable: {type(exc).__name__}"
    return "ok"


def _may_scrape(request: Request, settings: Settings) -> bool:
    """The metrics are for the operators' scraper: with METRICS_TOKEN set, only with it;
    without, only from this host (a developer's machine)."""
    if settings.METRICS_TOKEN:
        given = request.headers.get("authorization", "")
        return same(given, f"Bearer {settings.METRICS_TOKEN}")
    peer = request.client.host if request.client else ""
    return peer in ("127.0.0.1", "::1")


@router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
async def prometheus_metrics(request: Request, settings: SettingsDep) -> Response:
    if not _may_scrape(request, settings):
        raise NotFound("not found")
    rpc: RpcClient = request.state.rpc
    metrics.BROKER_UP.set(1 if rpc.connected else 0)
    return Response(metrics.render(), media_type=metrics.CONTENT_TYPE)


@router.get(
    "/readyz",
    summary="Broker, database and every service answer",
    openapi_extra=operation("gateway.readyz"),
)
async def readyz(request: Request, store: StoreDep, settings: SettingsDep) -> JSONResponse:
    rpc: RpcClient = request.state.rpc
    timeout = settings.HEALTH_TIMEOUT
    checks: dict[str, Any] = {"broker": "ok" if rpc.connected else "unavailable"}
    results = await asyncio.gather(
        _database_health(store, timeout), *(_service_health(rpc, s, timeout) for s in SERVICES)
    )
    checks["database"] = results[0]
    checks.update(dict(zip(SERVICES, results[1:], strict=True)))
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
        headers=None if ready else {"Retry-After": "5"},
    )


@router.get(
    "/v1/services/{service}/health",
    summary="One service's health (staff)",
    openapi_extra=operation(
        "gateway.service_health", "identity.health", "certs.health", "policy.health", "tasks.health"
    ),
)
async def service_health(service: str, actor: CurrentActor, bus: BusDep) -> Any:
    access.require("service_health", actor)
    if service not in SERVICES:
        raise NotFound("no such service", field="service")
    return await bus.call(service, "health")


DOCS_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>One-code city API</title>
  <link rel="stylesheet" href="{cdn}/npm/swagger-ui-dist@5/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="{cdn}/npm/swagger-ui-dist@5/swagger-ui-bundle.js"></script>
  <script src="/static/docs.js"></script>
</body>
</html>
"""


@router.get("/docs", include_in_schema=False)
async def api_docs() -> HTMLResponse:
    """Swagger UI, started from /static/docs.js (no inline script: the CSP holds here too)."""
    return HTMLResponse(DOCS_PAGE.format(cdn=SWAGGER_CDN))
