"""Token buckets: one per client address for the public, unauthenticated endpoints (the
authenticity check anyone can call), one per verifier account or partner client for the
code and presentation checks. ``burst`` requests at once, refilled at ``per_minute``; past
that: 429 with ``Retry-After``.

Buckets live in each gateway process, so with N replicas behind a balancer a client gets up
to N times the rate; enough to stop scraping of certificate numbers from one address. A
limit shared by all replicas would need a shared store (the database or Redis).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from fastapi import Request

from services.common.errors import RateLimited
from services.gateway.deps import CurrentActor


@dataclass
class TokenBuckets:
    per_minute: float
    burst: float
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)

    def take(self, key: str, now: float | None = None) -> float:
        """Take one token; returns 0 when allowed, else the seconds until one is free."""
        now = time.monotonic() if now is None else now
        rate = self.per_minute / 60.0
        tokens, last = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * rate)
        if tokens >= 1:
            self._buckets[key] = (tokens - 1, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        if len(self._buckets) > 100_000:  # forget idle clients rather than grow without end
            self._buckets.clear()
        return (1 - tokens) / rate


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def limit_public(request: Request) -> None:
    buckets: TokenBuckets = request.state.public_buckets
    wait = buckets.take(client_address(request))
    if wait > 0:
        raise RateLimited("too many requests from this address", retry_after=math.ceil(wait))


def limit_verifier(request: Request, actor: CurrentActor) -> None:
    buckets: TokenBuckets = request.state.verify_buckets
    wait = buckets.take(actor.client_id or actor.account_id or client_address(request))
    if wait > 0:
        raise RateLimited("too many checks from this verifier", retry_after=math.ceil(wait))
