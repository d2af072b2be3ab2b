"""Every GatewayStore method on the real database (FerretDB here, MongoDB in production),
each test on a database of its own, dropped afterwards. What a test reads back it reads
through the store, unless the store has no method for it (then from the database itself)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest
from motor.motor_asyncio import AsyncIOMotorClient, AsyncIOMotorDatabase

from services.gateway.store import (
    INDEXES,
    LEASE_NUMBERS_KEPT,
    GatewayStore,
    StoreError,
    StoreUnreachable,
)
from tests.conftest import MONGO_URL

T = TypeVar("T")
Database = AsyncIOMotorDatabase[dict[str, Any]]
# Whole milliseconds: the database keeps no finer time.
NOW = datetime(2026, 3, 1, 9, 30, 0, 123000, tzinfo=UTC)


def on_store(scenario: Callable[[GatewayStore, Database], Awaitable[T]]) -> T:
    """Run ``scenario`` on a store over a fresh database (indexes in place), then drop it."""

    async def run() -> T:
        client: AsyncIOMotorClient[dict[str, Any]] = AsyncIOMotorClient(MONGO_URL, tz_aware=True)
        name = f"it_gwstore_{uuid.uuid4().hex[:8]}"
        try:
            store = GatewayStore(client[name])
            await store.ensure_indexes()
            return await scenario(store, client[name])
        finally:
            await client.drop_database(name)
            client.close()

    return asyncio.run(asyncio.wait_for(run(), 120))


def session(sid: str, account: str, created_at: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "_id": sid,
        "account": account,
        "kind": "password",
        "created_at": created_at,
        "expires_at": created_at + timedelta(hours=1),
        "ended_at": None,
        **extra,
    }


# the database itself


def test_indexes_are_declared_and_made_again_harmlessly() -> None:
    async def scenario(store: GatewayStore, db: Database) -> dict[str, set[str]]:
        await store.prepare(deadline=0.0)  # up already: no retry needed, a second run is fine
        made: dict[str, set[str]] = {}
        for index in INDEXES:
            made.setdefault(index.collection, set()).update(
                await db[index.collection].index_information()
            )
        return made

    made = on_store(scenario)
    for index in INDEXES:
        assert index.name in made[index.collection], index
    assert "actor_1_time_-1" in made["api_calls"]  # the driver's own name for it


def test_a_live_database_answers_a_ping_and_a_dead_one_is_unreachable() -> None:
    async def scenario(store: GatewayStore, _db: Database) -> None:
        await store.ping()
        dead: AsyncIOMotorClient[dict[str, Any]] = AsyncIOMotorClient(
            "mongodb://127.0.0.1:1/", serverSelectionTimeoutMS=200
        )
        try:
            with pytest.raises(StoreUnreachable):
                await GatewayStore(dead["nothing"]).ping()
        finally:
            dead.close()

    on_store(scenario)
    assert issubclass(StoreUnreachable, StoreError)


# sessions


def test_a_session_opened_is_found_by_id_and_ends_once() -> None:
    async def scenario(store: GatewayStore, _db: Database) -> list[Any]:
        await store.open_session(session("s1", "a_1", NOW, user_agent="Firefox"))
        opened = await store.load_session("s1")
        await store.end_session("s1", NOW + timedelta(minutes=5), "a_1")
        await store.end_session("s1", NOW + timedelta(minutes=9), "admin")  # ended already
        ended = await store.load_session("s1")
        await store.end_session("nobody", NOW, "a_1")  # no such session: nothing happens
        return [opened, ended, await store.load_session("nobody")]

    opened, ended, unknown = on_store(scenario)
    assert opened["account"] == "a_1"
    assert opened["user_agent"] == "Firefox"
    assert opened["ended_at"] is None
    assert ended["ended_at"] == NOW + timedelta(minutes=5)
    assert ended["ended_by"] == "a_1"
    assert unknown is None


def test_an_accounts_live_sessions_newest_first_without_ended_or_others() -> None:
    async def scenario(store: GatewayStore, _db: Database) -> tuple[list[str], list[str]]:
        for i, sid in enumerate(["old", "mid", "new", "ended"]):
            await store.open_session(session(sid, "a_1", NOW + timedelta(minutes=i)))
        await store.open_session(session("theirs", "a_2", NOW))
        await store.end_session("ended", NOW, "a_1")
        ids = await store.live_session_ids("a_1")
        live = [s["_id"] for s in await store.live_sessions("a_1")]
        return ids, live

    ids, live = on_store(scenario)
    assert sorted(ids) == ["mid", "new", "old"]
    assert live == ["new", "mid", "old"]


def test_sessions_expired_before_a_moment_are_forgotten() -> None:
    async def scenario(store: GatewayStore, _db: Database) -> list[Any]:
        await store.open_session(session("gone", "a_1", NOW - timedelta(days=3)))
        await store.open_session(session("kept", "a_1", NOW))
        await store.forget_sessions_expired_before(NOW - timedelta(days=1))
        return [await store.load_session("gone"), await store.load_session("kept")]

    gone, kept = on_store(scenario)
    assert gone is None
    assert kept is not None


# partner clients


def client(client_id: str, **extra: Any) -> dict[str, Any]:
    return {"_id": client_id, "name": client_id.title(), "status": "active", **extra}


def test_a_client_id_is_registered_once() -> None:
    async def scenario(store: GatewayStore, _db: Database) -> list[Any]:
        first = await store.insert_partner_client(client("hotline", scopes=["tasks:write"]))
        second = await store.insert_partner_client(client("hotline", scopes=[]))
        return [first, second, await store.load_partner_client("hotline")]

    first, second, found = on_store(scenario)
    assert first is True
    assert second is False
    assert found["scopes"] == ["tasks:write"]  # the first one stays


def test_partner_clients_listed_by_id_looked_up_by_ids_and_disabled() -> None:
    async def scenario(store: GatewayStore, _db: Database) -> list[Any]:
        for client_id in ("tax", "hotline", "sms"):
            await store.insert_partner_client(client(client_id))
        listed = [c["_id"] for c in await store.partner_clients()]
        some = await store.partner_clients_by_ids(["sms", "tax", "sms", "nobody"])
        none = await store.partner_clients_by_ids([])
        await store.set_partner_client_status("tax", "disabled")
        return [listed, some, none, await store.load_partner_client("tax")]

    listed, some, none, tax = on_store(scenario)
    assert listed == ["hotline", "sms", "tax"]
    assert sorted(some) == ["sms", "tax"]
    assert some["sms"]["name"] == "Sms"
    assert none == {}
    assert tax["status"] == "disabled"
    assert on_store(lambda store, _db: store.load_partner_client("nobody")) is None


# the keys that sign access tokens


def test_the_first_signing_ring_put_in_place_stays() -> None:
    async def scenario(store: GatewayStore, _db: Database) -> list[Any]:
        before = await store.load_signing_ring("access-tokens")
        first = {"keys": [{"kid": "k1"}], "current": "k1"}
        second = {"keys": [{"kid": "k2"}], "current": "k2"}
        await asyncio.gather(
            store.create_signing_ring("access-tokens", first),
            store.create_signing_ring("access-tokens", second),
        )
        settled = await store.load_signing_ring("access-tokens")
        await store.create_signing_ring("access-tokens", {"keys": [], "current": "k3"})
        return [before, settled, await store.load_signing_ring("access-tokens")]

    before, settled, later = on_store(scenario)
    assert before is None
    assert settled["current"] in ("k1", "k2")
    assert settled["keys"] == [{"kid": settled["current"]}]
    assert later == settled


# idempotency keys


def key_record(record_id: str, created_at: datetime = NOW) -> dict[str, Any]:
    return {"_id": record_id, "fingerprint": "f1", "state": "running", "created_at": created_at}


def test_an_idempotency_key_is_claimed_once_however_many_race() -> None:
    async def scenario(store: GatewayStore, _db: Database) -> list[bool]:
        return await asyncio.gather(
            *(store.claim_idempotency_key(key_record("k")) for _ in range(8))
        )

    won = on_store(scenario)
    assert won.count(True) == 1


def test_an_idempotency_key_settles_with_its_answer_and_its_state_reads_alone() -> None:
    async def scenario(store: GatewayStore, _db: Database) -> list[Any]:
        await store.claim_idempotency_key(key_record("k"))
        running = await store.idempotency_key_state("k")
        answer = {"state": "done", "status": 201, "headers": {"location": "/x"}, "body": b"{}"}
        await store.settle_idempotency_key("k", answer)
        return [
            running,
            await store.load_idempotency_key("k"),
            await store.load_idempotency_key("no"),
        ]

    running, done, unknown = on_store(scenario)
    assert running == {"_id": "k", "state": "running"}  # not the fingerprint, not an answer
    assert done["fingerprint"] == "f1"
    assert done["status"] == 201
    assert done["headers"] == {"location": "/x"}
    assert done["body"] == b"{}"
    assert unknown is None


def test_an_unknown_outcome_is_released_only_while_unknown() -> None:
    async def scenario(store: GatewayStore, _db: Database) -> list[Any]:
        await store.claim_idempotency_key(key_record("done"))
        await store.settle_idempotency_key("done", {"state": "done", "status": 200})
        await store.release_unknown_idempotency_key("done")
        await store.claim_idempotency_key(key_record("unknown"))
        until = NOW + timedelta(seconds=30)
        await store.settle_idempotency_key("unknown", {"state": "unknown", "until": until})
        state = await store.idempotency_key_state("unknown")
        await store.release_unknown_idempotency_key("unknown")
        return [
            await store.load_idempotency_key("done"),
            state,
            await store.load_idempotency_key("unknown"),
            await store.claim_idempotency_key(key_record("unknown")),  # free again
        ]

    done, state, released, claimed_again = on_store(scenario)
    assert done is not None
    assert state == {"_id": "unknown", "state": "unknown", "until": NOW + timedelta(seconds=30)}
    assert released is None
    assert claimed_again is True


def test_an_idempotency_key_released_is_free_and_old_ones_are_forgotten() -> None:
    async def scenario(store: GatewayStore, _db: Database) -> list[Any]:
        await store.claim_idempotency_key(key_record("k"))
        await store.release_idempotency_key("k")
        free = await store.claim_idempotency_key(key_record("k"))
        await store.claim_idempotency_key(key_record("old", NOW - timedelta(days=2)))
        await store.forget_idempotency_keys_before(NOW - timedelta(days=1))
        return [
            free,
            await store.load_idempotency_key("old"),
            await store.load_idempotency_key("k"),
        ]

    free, old, kept = on_store(scenario)
    assert free is True
    assert old is None
    assert kept is not None


# rate-limit slots


def test_a_slot_is_reserved_once_and_expired_ones_are_forgotten() -> None:
    async def scenario(store: GatewayStore, _db: Database) -> list[Any]:
        later = NOW + timedelta(minutes=2)
        won = await asyncio.gather(*(store.reserve_slot("verify:t1:9:0", later) for _ in range(6)))
        taken = [await store.slot_taken("verify:t1:9:0"), await store.slot_taken("verify:t1:9:1")]
        await store.reserve_slot("verify:t1:8:0", NOW - timedelta(minutes=1))
        await store.forget_slots_expired_before(NOW)
        kept = [await store.slot_taken("verify:t1:8:0"), await store.slot_taken("verify:t1:9:0")]
        return [won, taken, kept]

    won, taken, kept = on_store(scenario)
    assert won.count(True) == 1
    assert taken == [True, False]
    assert kept == [False, True]


# leases


def test_a_lease_has_one_holder_until_released_or_expired() -> None:
    async def scenario(store: GatewayStore, _db: Database) -> list[Any]:
        minute = timedelta(minutes=1)
        won = await asyncio.gather(
            *(store.take_lease("round", f"w{i}", minute, NOW) for i in range(6))
        )
        holder = f"w{won.index(True)}"
        still = await store.take_lease("round", holder, minute, NOW + timedelta(seconds=30))
        await store.release_lease("round", "someone-else", NOW)  # not theirs: nothing happens
        other_before = await store.take_lease("round", "late", minute, NOW + timedelta(seconds=31))
        await store.release_lease("round", holder, NOW + timedelta(seconds=32))
        other_after = await store.take_lease("round", "late", minute, NOW + timedelta(seconds=33))
        expired = await store.take_lease("round", holder, minute, NOW + timedelta(minutes=5))
        return [won, still, other_before, other_after, expired]

    won, still, other_before, other_after, expired = on_store(scenario)
    assert won.count(True) == 1
    assert still is True
    assert other_before is False
    assert other_after is True
    assert expired is True  # "late" held it a minute and did not come back


def test_only_the_last_lease_numbers_are_kept() -> None:
    async def scenario(store: GatewayStore, db: Database) -> list[str]:
        for turn in range(LEASE_NUMBERS_KEPT * 2 + 5):
            at = NOW + timedelta(seconds=turn)
            assert await store.take_lease("round", "w", timedelta(minutes=1), at)
            await store.release_lease("round", "w", at)
        await store.take_lease("other", "w", timedelta(minutes=1), NOW)
        return sorted([d["_id"] async for d in db.lease_numbers.find({})])

    kept = on_store(scenario)
    round_numbers = [k for k in kept if k.startswith("round:")]
    # Taking number 200 deleted up to 100: 101 … 205 are left, and the other lease's one.
    assert round_numbers[0] == "round:000000000101"
    assert round_numbers[-1] == "round:000000000205"
    assert len(round_numbers) == 105
    assert "other:000000000001" in kept


# what the gateway keeps of its own work


def test_audit_entries_are_appended_in_one_batch() -> None:
    async def scenario(store: GatewayStore, db: Database) -> list[dict[str, Any]]:
        entries = [{"time": NOW, "path": f"/v1/x/{i}", "status": 200} for i in range(5)]
        await store.append_audit(entries)
        await store.append_audit([{"time": NOW, "path": "/v1/y", "status": 404}])
        return [d async for d in db.api_calls.find({}, {"_id": 0}).sort("path", 1)]

    written = on_store(scenario)
    assert [e["path"] for e in written] == [f"/v1/x/{i}" for i in range(5)] + ["/v1/y"]


def test_a_failing_audit_entry_does_not_stop_the_rest_of_its_batch() -> None:
    async def scenario(store: GatewayStore, db: Database) -> list[str]:
        entries = [{"_id": "a"}, {"_id": "a"}, {"_id": "b"}]
        with pytest.raises(StoreError):
            await store.append_audit(entries)
        return sorted([d["_id"] async for d in db.api_calls.find({})])

    assert on_store(scenario) == ["a", "b"]


def test_a_webhook_delivery_is_logged() -> None:
    async def scenario(store: GatewayStore, db: Database) -> list[dict[str, Any]]:
        entry = {"event": "e1", "partner": "hotline", "at": NOW, "ok": True}
        await store.log_webhook_delivery(entry)
        return [d async for d in db.webhook_log.find({}, {"_id": 0})]

    assert on_store(scenario) == [{"event": "e1", "partner": "hotline", "at": NOW, "ok": True}]
