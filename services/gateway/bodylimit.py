"""Refuse request bodies over a limit (413) before the application reads them: a declared
Content-Length over the limit is refused at once, and a streamed body is counted as it
arrives. uvicorn itself sets no limit. Paths that carry attachments (a task's files, up to
five of 512 KiB each, base64 in JSON) may be larger: ``larger`` maps a path prefix to its
limit. A body must also arrive whole within ``deadline`` seconds (408 otherwise): a client
that trickles it byte by byte would hold one of the process's in-flight places for ever."""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.gateway.problems import problem


class BodyTooLarge(Exception):
    pass


class BodyTooSlow(Exception):
    pass


class BodyLimitMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        limit: int,
        larger: dict[str, int] | None = None,
        deadline: float = 10.0,
    ) -> None:
        self.app = app
        self.limit = limit
        self.larger = larger or {}
        self.deadline = deadline

    def limit_for(self, path: str) -> int:
        return next((n for p, n in self.larger.items() if path.startswith(p)), self.limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._refuse(scope, receive, send, limit)
            return
        received, over, answered = 0, False, False
        refusal: Exception | None = None
        ends = asyncio.get_running_loop().time() + self.deadline

        async def counted() -> Message:
            nonlocal received, over, refusal
            left = ends - asyncio.get_running_loop().time()
            try:
                message = await asyncio.wait_for(receive(), timeout=max(left, 0.001))
            except TimeoutError:
                over, refusal = True, BodyTooSlow()
                raise BodyTooSlow from None
            if message["type"] == "http.disconnect":
                return message
            received += len(message.get("body", b""))
            if received > limit:
                over, refusal = True, BodyTooLarge()
                raise BodyTooLarge  # the app never sees a truncated body
            return message

        async def guarded(message: Message) -> None:
            # FastAPI turns any error while reading the body into its own 400: answer 413.
            nonlocal answered
            if not over:
                answered = answered or message["type"] == "http.response.start"
                await send(message)
            elif not answered and message["type"] == "http.response.start":
                answered = True
                await self._refuse(scope, receive, send, limit, refusal)

        try:
            await self.app(scope, counted, guarded)
        except (BodyTooLarge, BodyTooSlow):
            if not answered:
                await self._refuse(scope, receive, send, limit, refusal)

    async def _refuse(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        limit: int,
        refusal: Exception | None = None,
    ) -> None:
        if isinstance(refusal, BodyTooSlow):
            response = problem(
                408,
                "Request timeout",
                f"the body did not arrive within {self.deadline:g} s",
                "request-timeout",
            )
        else:
            response = problem(
                413, "Request too large", f"the body may be at most {limit} bytes", "too-large"
            )
        await response(scope, receive, send)
