from __future__ import annotations

from services.gateway.ratelimit import TokenBuckets


def test_a_burst_then_the_refill_rate() -> None:
    buckets = TokenBuckets(per_minute=60, burst=3)
    assert [buckets.take("a", now=0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a", now=0.0) == 1.0  # one token a second: wait a second
    assert buckets.take("b", now=0.0) == 0.0  # another address has its own bucket
    assert buckets.take("a", now=1.0) == 0.0
    assert buckets.take("a", now=1.0) > 0
