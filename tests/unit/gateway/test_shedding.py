"""With as many requests in flight as the process serves at once, the next is refused at
once (503, Retry-After, problem+json) rather than queued; probes still answer; a slot freed
is served again."""

from __future__ import annotations

import asyncio

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from services.gateway.shedding import LoadSheddingMiddleware

LIMIT = 2


def gateway(release: asyncio.Event, arrived: asyncio.Queue[str]) -> httpx.AsyncClient:
    async def slow(request: Request) -> JSONResponse:
        await arrived.put(request.url.path)
        await release.wait()
        return JSONResponse({"ok": True})

    async def probe(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    app = Starlette(routes=[Route("/v1/slow", slow), Route("/healthz", probe)])
    shed = LoadSheddingMiddleware(app, limit=LIMIT)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=shed), base_url="http://gw")


def test_past_the_limit_requests_are_refused_at_once_and_served_again_later() -> None:
    async def scenario() -> None:
        release, arrived = asyncio.Event(), asyncio.Queue[str]()
        async with gateway(release, arrived) as http:
            held = [asyncio.create_task(http.get("/v1/slow")) for _ in range(LIMIT)]
            for _ in range(LIMIT):
                await asyncio.wait_for(arrived.get(), 5)  # both are being served
            refused = await asyncio.wait_for(http.get("/v1/slow"), 5)  # not queued
            assert refused.status_code == 503
            assert refused.headers["retry-after"] == "1"
            assert refused.headers["content-type"].startswith("application/problem+json")
            assert refused.json()["status"] == 503
            assert (await http.get("/healthz")).status_code == 200  # probes are never shed
            release.set()
            assert [r.status_code for r in await asyncio.gather(*held)] == [200] * LIMIT
            assert (await http.get("/v1/slow")).status_code == 200

    asyncio.run(scenario())
