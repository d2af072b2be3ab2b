"""The webhook round's lease on the real database: however many gateway processes race for
it, one holds it at a time; a released lease is taken at once; a dead holder's expires.
(A conditional findAndModify let two processes win on FerretDB: the replicas' end-to-end
run saw webhooks posted twice.)"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from motor.motor_asyncio import AsyncIOMotorClient

from services.common.codec import utcnow
from services.gateway.lease import Lease
from services.gateway.store import GatewayStore
from tests.conftest import MONGO_URL


def test_one_holder_at_a_time_however_many_race() -> None:
    async def race() -> None:
        client: AsyncIOMotorClient = AsyncIOMotorClient(MONGO_URL, tz_aware=True)
        name = f"lease_test_{uuid.uuid4().hex[:8]}"
        store = GatewayStore(client[name])
        try:
            contenders = [
                Lease(store, "round", f"worker-{i}", timedelta(seconds=60)) for i in range(8)
            ]
            for _ in range(25):
                now = utcnow()
                won = await asyncio.gather(*(lease.take(now) for lease in contenders))
                assert sum(won) == 1, won
                holder = contenders[won.index(True)]
                # While it holds the lease nobody else gets it, and it keeps it.
                again = await asyncio.gather(*(lease.take(utcnow()) for lease in contenders))
                assert again == won
                await holder.release(utcnow())
            # A holder that dies keeps the lease until it expires, then another takes it.
            short = [Lease(store, "short", f"w{i}", timedelta(milliseconds=300)) for i in range(2)]
            assert await short[0].take(utcnow())
            assert not await short[1].take(utcnow())
            await asyncio.sleep(0.5)
            assert await short[1].take(utcnow())
        finally:
            await client.drop_database(name)
            client.close()

    asyncio.run(asyncio.wait_for(race(), 120))
