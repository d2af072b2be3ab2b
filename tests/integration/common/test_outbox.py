"""The outbox and the receipts on the real database: an event leaves once its change is
made and never when it is not, the winner of a race sends its event and the loser's never
leaves, a repeat is acted on once."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import eventlet
import pymongo
import pytest
from pymongo.database import Database

from services.common import outbox
from services.common.claims import advance
from services.common.codec import utcnow
from services.common.errors import Conflict
from services.common.outbox import Commit, Event
from services.common.receipts import once_per_event
from tests.conftest import MONGO_URL

Db = Database[dict[str, Any]]


@pytest.fixture
def db() -> Iterator[Db]:
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(MONGO_URL, tz_aware=True)
    name = f"it_outbox_{uuid.uuid4().hex[:8]}"
    yield client[name]
    client.drop_database(name)
    client.close()


class Bus:
    """What the relay published, in order."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, name: str, payload: Any) -> None:
        self.sent.append((name, payload))


def test_an_event_leaves_once_its_change_is_made(db: Db) -> None:
    now, bus = utcnow(), Bus()
    outbox.stage(db, now, Commit("things", "t1"), Event("thing_made", "thing_made:t1", {"n": 1}))
    assert outbox.relay(db, bus, now) == outbox.Relayed(sent=0, abandoned=0, waiting=1)
    assert bus.sent == []  # the change is not made yet: nothing leaves

    db.things.insert_one({"_id": "t1"})
    assert outbox.relay(db, bus, now).sent == 1
    assert bus.sent == [("thing_made", {"n": 1, "event_id": "thing_made:t1", "request_id": None})]
    assert outbox.relay(db, bus, now).sent == 0  # and it left once
    assert db[outbox.OUTBOX].count_documents({}) == 0


def test_an_event_whose_change_never_happened_is_dropped_never_sent(db: Db) -> None:
    staged, bus = utcnow(), Bus()
    outbox.stage(db, staged, Commit("things", "t2"), Event("thing_made", "thing_made:t2", {}))
    almost = staged + outbox.ABANDON_AFTER - timedelta(seconds=1)
    assert outbox.relay(db, bus, almost).waiting == 1  # a slow writer may still commit
    late = staged + outbox.ABANDON_AFTER + timedelta(seconds=1)
    assert outbox.relay(db, bus, late) == outbox.Relayed(sent=0, abandoned=1, waiting=0)
    db.things.insert_one({"_id": "t2"})  # (too late to matter: it is gone)
    assert outbox.relay(db, bus, late).sent == 0
    assert bus.sent == []


def test_staging_the_same_change_twice_queues_its_event_once(db: Db) -> None:
    now, bus = utcnow(), Bus()
    first = Event("thing_made", "thing_made:t3", {"n": 1})
    outbox.stage(db, now, Commit("things", "t3"), first)
    outbox.stage(db, now, Commit("things", "t3"), first, Event("thing_told", "thing_told:t3", {}))
    db.things.insert_one({"_id": "t3"})
    outbox.relay(db, bus, now)
    assert [name for name, _ in bus.sent] == ["thing_made", "thing_told"]


def test_of_racing_writers_only_the_winners_event_leaves(db: Db) -> None:
    now, bus = utcnow(), Bus()
    db.things.insert_one({"_id": "t4", "status": "open"})
    document = db.things.find_one({"_id": "t4"})
    assert document is not None

    def act(actor: int) -> bool:
        try:
            advance(
                db,
                "things",
                document,
                {"$set": {"status": f"by-{actor}"}},
                utcnow(),
                events=[Event("thing_changed", f"thing_changed:t4:{actor}", {"by": actor})],
            )
        except Conflict:
            return False
        return True

    pool = eventlet.GreenPool(8)
    won = [actor for actor, ok in zip(range(8), pool.imap(act, range(8)), strict=True) if ok]
    assert len(won) == 1
    late = now + outbox.ABANDON_AFTER + timedelta(minutes=1)
    relayed = outbox.relay(db, bus, late)
    assert relayed.sent == 1
    assert relayed.abandoned == 7
    assert bus.sent[0][1]["by"] == won[0]
    final = db.things.find_one({"_id": "t4"})
    assert final is not None
    assert final["status"] == f"by-{won[0]}"


class Consumer:
    """A service as far as a handler sees it: its database, and what it did."""

    def __init__(self, db: Db) -> None:
        self.db = db
        self.done: list[Any] = []

    @once_per_event
    def on_thing_made(self, payload: dict[str, Any]) -> None:
        self.done.append(payload["n"])


def test_a_repeated_event_is_acted_on_once_and_a_failed_one_again(db: Db) -> None:
    consumer = Consumer(db)
    consumer.on_thing_made({"n": 1, "event_id": "thing_made:a"})
    consumer.on_thing_made({"n": 1, "event_id": "thing_made:a"})
    consumer.on_thing_made({"n": 2, "event_id": "thing_made:b"})
    assert consumer.done == [1, 2]

    class Failing(Consumer):
        calls = 0

        @once_per_event
        def on_thing_made(self, payload: dict[str, Any]) -> None:
            Failing.calls += 1
            if Failing.calls == 1:
                raise RuntimeError("killed in the middle")
            self.done.append(payload["n"])

    failing = Failing(db)
    with pytest.raises(RuntimeError):
        failing.on_thing_made({"n": 3, "event_id": "thing_made:c"})
    failing.on_thing_made({"n": 3, "event_id": "thing_made:c"})  # the broker hands it again
    assert failing.done == [3]
