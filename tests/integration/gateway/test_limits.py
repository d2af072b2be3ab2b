"""A limit shared by several gateway processes, on the real database: two processes (two
``SharedLimits``, as two workers or replicas would have) admit exactly the allowance between
them, however their requests interleave; counted, not timed."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from motor.motor_asyncio import AsyncIOMotorClient

from services.gateway.ratelimit import Limit, SharedLimits
from services.gateway.store import GatewayStore
from tests.conftest import MONGO_URL, drop_databases

NOW = 1_900_000_000.0  # a fixed moment inside one window: the clock plays no part


@pytest.fixture
def database_name() -> Iterator[str]:
    prefix = f"it_{uuid.uuid4().hex[:8]}_"
    yield f"{prefix}gateway"
    drop_databases(prefix)


def test_two_processes_admit_exactly_the_allowance_between_them(database_name: str) -> None:
    async def run() -> tuple[list[bool], Any]:
        client: AsyncIOMotorClient[Any] = AsyncIOMotorClient(MONGO_URL, tz_aware=True)
        store = GatewayStore(client[database_name])
        first, second = SharedLimits(store), SharedLimits(store)
        limit = Limit("verify", allowance=20)
        calls = [(first if i % 3 else second).take(limit, "terminal-1", NOW) for i in range(60)]
        decisions = await asyncio.gather(*calls)
        other = await first.take(limit, "terminal-2", NOW)
        late = await SharedLimits(store).take(limit, "terminal-1", NOW)  # a third, fresh process
        client.close()
        return [d.allowed for d in decisions], (other, late)

    allowed, (other, late) = asyncio.run(run())
    assert allowed.count(True) == 20
    assert other.allowed
    assert other.remaining == 19
    assert not late.allowed
    assert late.remaining == 0


def test_the_next_window_starts_again(database_name: str) -> None:
    async def run() -> list[bool]:
        client: AsyncIOMotorClient[Any] = AsyncIOMotorClient(MONGO_URL, tz_aware=True)
        limits = SharedLimits(GatewayStore(client[database_name]))
        limit = Limit("public", allowance=2, window_s=60)
        window = NOW - NOW % 60
        answers = [await limits.take(limit, "198.51.100.7", window + 1) for _ in range(3)]
        answers.append(await limits.take(limit, "198.51.100.7", window + 61))
        client.close()
        return [a.allowed for a in answers]

    assert asyncio.run(run()) == [True, True, False, True]
