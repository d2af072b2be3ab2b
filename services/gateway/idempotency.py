"""Idempotency keys for mutations (the ``Idempotency-Key`` header, as payment APIs use it).

A partner that retries a POST after a timeout must not register a person twice. For an
authenticated POST/PUT/PATCH/DELETE carrying the header, the first request claims the key
(an insert: unique per caller and key) and its response is stored; a retry with the same key
and the same request gets that stored response again (``Idempotent-Replayed: true``); the same
key with a different request is refused (422); a retry while the first is still running gets
409. Keys are kept 24 hours (swept by the gateway, not by a TTL index, which FerretDB lacks).

An answer that carries a secret or a token (``Cache-Control: no-store``: a partner's secret
shown once, a fresh code, a presentation) is never kept: a retry learns that the first request
succeeded (409, ``answer_withheld``) and not the secret again. The key is released only after
a definite outcome: a 5xx may have done its work before failing to answer (a timeout), so the
key stays taken ``UNKNOWN_FOR`` (longer than any RPC may still run: each carries its own
expiry); a retry meanwhile gets 409 with ``Retry-After``, and after it the request is taken as
new (every state change behind it is itself idempotent or unique-keyed).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from datetime import UTC, timedelta

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.codec import utcnow
from services.common.errors import Unauthenticated
from services.gateway import sessions
from services.gateway.auth import verify_access_token
from services.gateway.problems import problem
from services.gateway.store import GatewayStore, StoreError

log = logging.getLogger(__name__)

HEADER = b"idempotency-key"
MUTATIONS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
KEEP = timedelta(hours=24)
UNKNOWN_FOR = timedelta(seconds=30)
MAX_BODY = 1 << 20


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def _caller(scope: Scope) -> str | None:
    """Whose key this is: the holder of a valid token whose session is live. Anything else
    goes on to the route, which refuses it: a stored answer is never handed to a token that
    was logged out, ended by a password change or whose account was disabled."""
    authorization = _header(scope, b"authorization") or ""
    scheme, _, token = authorization.partition(" ")
    state = scope.get("state", {})
    if scheme.lower() != "bearer" or "keyring" not in state:
        return None
    try:
        claims = verify_access_token(token, state["keyring"], state["settings"])
        await sessions.require_live(state["store"], claims.get("sid"), claims["sub"], utcnow())
    except Unauthenticated:
        return None
    return str(claims["sub"])


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = _header(scope, HEADER) if scope["type"] == "http" else None
        if key is None or scope["method"] not in MUTATIONS:
            await self.app(scope, receive, send)
            return
        if not 1 <= len(key) <= 128:
            await problem(
                422, "Invalid input", "1–128 characters", "invalid-input", field="Idempotency-Key"
            )(scope, receive, send)
            return
        caller = await _caller(scope)
        if caller is None:  # unauthenticated: let the route refuse it as usual
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        if body is None:
            await problem(413, "Request too large", f"at most {MAX_BODY} bytes", "too-large")(
                scope, receive, send
            )
            return
        fingerprint = hashlib.sha256(
            f"{scope['method']} {scope['path']}?{scope.get('query_string', b'').decode()}".encode()
            + b"\n"
            + body
        ).hexdigest()
        store: GatewayStore = scope["state"]["store"]
        record_id = hashlib.sha256(f"{caller}\n{key}".encode()).hexdigest()
        claim = {"_id": record_id, "fingerprint": fingerprint, "state": "running"}
        for _attempt in range(2):
            if await store.claim_idempotency_key({**claim, "created_at": utcnow()}):
                break
            if not await _release_if_stale(store, record_id):
                await self._answer_again(store, record_id, fingerprint, scope, send)
                return
        else:
            await self._answer_again(store, record_id, fingerprint, scope, send)
            return
        await self._run_and_store(store, record_id, body, scope, send)

    async def _answer_again(
        self,
        store: GatewayStore,
        record_id: str,
        fingerprint: str,
        scope: Scope,
        send: Send,
    ) -> None:
        stored = await store.load_idempotency_key(record_id)
        replay = _nothing_to_receive
        if stored is None or stored["fingerprint"] != fingerprint:
            response = problem(
                422,
                "Invalid input",
                "this Idempotency-Key was used for another request",
                "invalid-input",
                field="Idempotency-Key",
            )
        elif stored["state"] == "unknown":
            response = problem(
                409,
                "Conflict",
                "the first request with this Idempotency-Key failed without a definite answer; "
                "retry after the time given",
                "conflict",
                {"Retry-After": str(int(UNKNOWN_FOR.total_seconds()))},
                code="outcome_unknown",
            )
        elif stored["state"] != "done":
            response = problem(
                409,
                "Conflict",
                "a request with this Idempotency-Key is still running",
                "conflict",
                {"Retry-After": "1"},
            )
        elif stored.get("withheld"):
            response = problem(
                409,
                "Conflict",
                "the first request with this Idempotency-Key succeeded; its answer carried a "
                "secret shown once and is not kept",
                "conflict",
                code="answer_withheld",
                first_status=stored["status"],
            )
        else:
            await send(
                {
                    "type": "http.response.start",
                    "status": stored["status"],
                    "headers": [(k.encode(), v.encode()) for k, v in stored["headers"].items()]
                    + [(b"idempotent-replayed", b"true")],
                }
            )
            await send({"type": "http.response.body", "body": stored["body"]})
            return
        await response(scope, replay, send)

    async def _run_and_store(
        self, store: GatewayStore, record_id: str, body: bytes, scope: Scope, send: Send
    ) -> None:
        """Run the request, store its response, and only then send it: a client that retries
        the moment it has the answer must find the answer stored."""
        messages: list[Message] = []
        delivered = False

        async def receive_once() -> Message:
            nonlocal delivered
            if delivered:
                return {"type": "http.disconnect"}
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def hold(message: Message) -> None:
            messages.append(message)

        try:
            await self.app(scope, receive_once, hold)
        finally:
            await _store(store, record_id, messages)
        for message in messages:
            await send(message)


async def _store(store: GatewayStore, record_id: str, messages: list[Message]) -> None:
    start = next((m for m in messages if m["type"] == "http.response.start"), None)
    status = start["status"] if start else 500
    raw_headers = (start or {}).get("headers", [])
    try:
        if status >= 500:  # the work may have been done: hold the key until it cannot be
            await store.settle_idempotency_key(
                record_id, {"state": "unknown", "until": utcnow() + UNKNOWN_FOR}
            )
            return
        if any(k.lower() == b"cache-control" and b"no-store" in v for k, v in raw_headers):
            await store.settle_idempotency_key(
                record_id, {"state": "done", "status": status, "withheld": True}
            )
            return
        kept = (b"content-type", b"location", b"retry-after")
        # An object, not pairs: FerretDB stores no nested arrays.
        headers = {
            k.decode("latin-1").lower(): v.decode("latin-1")
            for k, v in raw_headers
            if k.lower() in kept
        }
        body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
        await store.settle_idempotency_key(
            record_id, {"state": "done", "status": status, "headers": headers, "body": body}
        )
    except StoreError:
        log.warning("could not store the idempotent response; releasing the key", exc_info=True)
        with contextlib.suppress(StoreError):
            await store.release_idempotency_key(record_id)


async def _release_if_stale(store: GatewayStore, record_id: str) -> bool:
    """Forget a key whose first request ended without a definite answer long enough ago that
    it cannot still be at work; True when it was released (the caller claims it again)."""
    stored = await store.idempotency_key_state(record_id)
    if stored is None:
        return True
    until = stored.get("until")
    if stored.get("state") != "unknown" or until is None:
        return False
    if (until if until.tzinfo else until.replace(tzinfo=UTC)) > utcnow():
        return False
    await store.release_unknown_idempotency_key(record_id)
    return True


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body, or None when it is larger than ``MAX_BODY``."""
    chunks, size = [], 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def _nothing_to_receive() -> Message:
    return {"type": "http.disconnect"}


async def sweep(store: GatewayStore, every: float = 3600) -> None:
    """Forget keys older than a day; every replica may run it, deleting twice is harmless."""
    while True:
        with contextlib.suppress(StoreError):
            await store.forget_idempotency_keys_before(utcnow() - KEEP)
        await asyncio.sleep(every)
