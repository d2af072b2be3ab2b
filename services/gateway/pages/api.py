"""Pages call the gateway's own HTTP API, over loopback, with the user's bearer token: the
same routes, authorization, rate limits and audit as any partner. A problem+json answer
becomes an :class:`ApiError`, which the page shows in plain Chinese (:mod:`.messages`)."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import Request

from services.gateway.ratelimit import (
    PAGE_ADDRESS,
    PAGE_SIGNATURE,
    client_address,
    page_signature,
)
from services.gateway.settings import Settings


class ApiError(Exception):
    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        super().__init__(problem.get("detail") or f"HTTP {status}")
        self.status = status
        self.code = str(problem.get("code") or "")
        self.field = str(problem.get("field") or "")
        self.detail = str(problem.get("detail") or "")
        self.retry_after = problem.get("retry_after")
        self.problem = problem


class PageApi:
    def __init__(self, settings: Settings, request: Request, token: str | None) -> None:
        self.base_url = settings.PAGES_API_URL or f"http://127.0.0.1:{settings.GATEWAY_PORT}"
        browser = client_address(request)
        self.headers = {
            "X-Request-ID": getattr(request.state, "request_id", "") or "",
            # The browser's address and name, vouched for (limits and sessions count the
            # person at the page, not the loopback the page calls over).
            PAGE_ADDRESS: browser,
            PAGE_SIGNATURE: page_signature(settings, browser),
            "User-Agent": request.headers.get("user-agent", "")[:200],
        }
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        self.timeout = settings.RPC_TIMEOUT + 5

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=self.timeout) as client:
            try:
                response = await client.request(method, path, headers=self.headers, **kwargs)
            except httpx.HTTPError as exc:
                raise ApiError(503, {"detail": type(exc).__name__}) from exc
        if response.status_code >= 400:
            try:
                problem = response.json()
            except ValueError:
                problem = {}
            if response.headers.get("Retry-After"):
                problem["retry_after"] = response.headers["Retry-After"]
            raise ApiError(response.status_code, problem if isinstance(problem, dict) else {})
        if response.headers.get("content-type", "").startswith("application/json"):
            return response.json()
        return response.content

    async def get(self, path: str, **kwargs: Any) -> Any:
        return await self.call("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> Any:
        return await self.call("POST", path, **kwargs)
