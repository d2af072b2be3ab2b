"""Rate limits that hold for the whole gateway, however many processes and replicas serve it.

A limit allows ``allowance`` requests per key (a client address, a verifier, a login) in each
fixed window of ``window_s`` seconds. Each admitted request claims the next numbered slot of
its window, ``{limit}:{key}:{window}:{n}``, by an insert into the gateway database's unique
``_id`` (the one guard that holds on FerretDB as on MongoDB: of two processes claiming slot
*n* at once, one wins and the other takes *n + 1*). A request that finds every slot of its
window taken is refused with 429 and ``Retry-After`` (the end of the window). Each answer
says where the caller stands (``RateLimit-Limit``, ``RateLimit-Remaining``,
``RateLimit-Reset``, as the IETF draft names them), so a client, and a test, can count.

A process hands out the slots of a window in turn to the requests it serves, before any of
them writes, so an admitted request costs one insert however many arrive at once; a process
that is behind (another one took slots) finds the first free slot by a few reads by ``_id``.
Old windows' slots are swept.

Client addresses: the peer of the connection, unless it is one of ``TRUSTED_PROXIES`` (then
the address that proxy says it forwarded, the nearest untrusted one in ``X-Forwarded-For``),
or the gateway's own pages relaying a browser's request (they vouch for its address with a
keyed signature only they can make). A header anyone may send is never believed.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import ipaddress
import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from fastapi import Request

from services.common.codec import utcnow
from services.common.crypto import derive_key, same
from services.common.errors import RateLimited
from services.gateway.deps import CurrentActor
from services.gateway.settings import Settings
from services.gateway.store import GatewayStore, StoreError

PAGE_ADDRESS = "x-page-client-address"
PAGE_SIGNATURE = "x-page-client-signature"


@dataclass(frozen=True)
class Limit:
    name: str
    allowance: int
    window_s: int = 60


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_at: int  # unix seconds when the window ends

    def headers(self, now: float) -> dict[str, str]:
        """Where the caller stands (a refusal adds ``Retry-After``: :class:`RateLimited`)."""
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(max(1, math.ceil(self.reset_at - now))),
            "RateLimit-Window": str(self.reset_at),
        }


@dataclass
class SharedLimits:
    store: GatewayStore
    _next: dict[str, int] = field(default_factory=dict)

    async def take(self, limit: Limit, key: str, now: float | None = None) -> Decision:
        now = time.time() if now is None else now
        window = int(now // limit.window_s)
        reset_at = (window + 1) * limit.window_s
        bucket = f"{limit.name}:{key}:{window}"
        if bucket not in self._next:  # this process's first request of the window
            found = await self._first_free(bucket, 0, limit.allowance)
            self._remember(bucket, max(found, self._next.get(bucket, 0)))
        while True:
            # Reserved here before any await: the requests this process serves at once each
            # try their own slot (one insert each), instead of all trying the same one.
            slot = self._next.get(bucket, 0)
            if slot >= limit.allowance:
                return Decision(False, limit.allowance, 0, reset_at)
            self._remember(bucket, slot + 1)
            expires_at = _at(reset_at + limit.window_s)
            if await self.store.reserve_slot(f"{bucket}:{slot}", expires_at):
                return Decision(True, limit.allowance, limit.allowance - slot - 1, reset_at)
            # Another process took it: skip what it took (a few reads by _id).
            found = await self._first_free(bucket, slot + 1, limit.allowance)
            self._remember(bucket, max(found, self._next.get(bucket, 0)))

    async def _taken(self, bucket: str, slot: int) -> bool:
        return await self.store.slot_taken(f"{bucket}:{slot}")

    async def _first_free(self, bucket: str, start: int, allowance: int) -> int:
        """The first slot not taken at or after ``start`` (slots are taken in order): gallop
        past the taken ones, then halve the gap."""
        if start >= allowance or not await self._taken(bucket, start):
            return start
        low, step = start, 1  # low is taken
        high = min(allowance, start + step)
        while high < allowance and await self._taken(bucket, high):
            low, step = high, step * 2
            high = min(allowance, low + step)
        while high - low > 1:  # low taken, high free (or the allowance)
            middle = (low + high) // 2
            if await self._taken(bucket, middle):
                low = middle
            else:
                high = middle
        return high

    def _remember(self, bucket: str, slot: int) -> None:
        if len(self._next) > 50_000:
            self._next.clear()
        self._next[bucket] = slot

    async def sweep(self, every: float = 300) -> None:
        while True:
            with contextlib.suppress(StoreError):
                await self.store.forget_slots_expired_before(utcnow())
            await asyncio.sleep(every)


def _at(unix: float) -> datetime:
    return datetime.fromtimestamp(unix, tz=UTC)


def _trusted(address: str, proxies: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for item in (p.strip() for p in proxies.split(",")):
        with contextlib.suppress(ValueError):
            if item and ip in ipaddress.ip_network(item, strict=False):
                return True
    return False


def page_signature(settings: Settings, address: str) -> str:
    key = derive_key(settings.SECRET_KEY.get_secret_value(), "page-client-address")
    return hmac.new(key, address.encode(), hashlib.sha256).hexdigest()


def client_address(request: Request) -> str:
    peer = request.client.host if request.client else "unknown"
    settings: Settings | None = getattr(request.state, "settings", None)
    if settings is None:
        return peer
    relayed = request.headers.get(PAGE_ADDRESS)
    signature = request.headers.get(PAGE_SIGNATURE, "")
    if relayed and same(page_signature(settings, relayed), signature):
        return relayed
    if settings.TRUSTED_PROXIES and _trusted(peer, settings.TRUSTED_PROXIES):
        hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",")]
        for hop in reversed([h for h in hops if h]):
            if not _trusted(hop, settings.TRUSTED_PROXIES):
                return hop
    return peer


async def _apply(request: Request, limit: Limit, key: str) -> None:
    """Take one from the limit; the answer, whatever it is (even an error), carries where the
    caller stands (added by :mod:`services.gateway.middleware`)."""
    limits: SharedLimits = request.state.limits
    now = time.time()
    decision = await limits.take(limit, key, now)
    headers = decision.headers(now)
    request.state.rate_limit_headers = headers
    if not decision.allowed:
        raise RateLimited(
            f"too many requests; at most {limit.allowance} in {limit.window_s} s",
            retry_after=int(headers["RateLimit-Reset"]),
        )


async def limit_public(request: Request) -> None:
    settings: Settings = request.state.settings
    await _apply(request, Limit("public", settings.PUBLIC_RATE_PER_MINUTE), client_address(request))


async def limit_verifier(request: Request, actor: CurrentActor) -> None:
    settings: Settings = request.state.settings
    key = actor.client_id or actor.account_id or "unknown"
    await _apply(request, Limit("verify", settings.VERIFY_RATE_PER_MINUTE), key)


async def limit_login(request: Request) -> None:
    settings: Settings = request.state.settings
    await _apply(request, Limit("login", settings.LOGIN_RATE_PER_MINUTE), client_address(request))
