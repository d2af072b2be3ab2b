"""The compare-and-set primitive under real concurrency on the real database: exactly one
winner per revision, and a counter that never hands out a number twice."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import eventlet
import pymongo
import pytest
from pymongo.database import Database

from services.common.claims import advance, take_next
from services.common.codec import utcnow
from services.common.errors import Conflict
from tests.conftest import MONGO_URL


@pytest.fixture
def db() -> Iterator[Database[dict[str, Any]]]:
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(MONGO_URL)
    name = f"it_claims_{uuid.uuid4().hex[:8]}"
    yield client[name]
    client.drop_database(name)
    client.close()


def test_sixteen_concurrent_transitions_have_one_winner(db: Database[dict[str, Any]]) -> None:
    for round_number in range(5):
        doc_id = f"task-{round_number}"
        db.tasks.insert_one({"_id": doc_id, "status": "open", "history": []})
        document = db.tasks.find_one({"_id": doc_id})
        assert document is not None

        def act(actor: int, document: dict[str, Any] = document) -> str:
            try:
                advance(
                    db,
                    "tasks",
                    document,
                    {"$set": {"status": f"taken-by-{actor}"}, "$push": {"history": actor}},
                    utcnow(),
                )
            except Conflict:
                return "conflict"
            return "won"

        outcomes = list(eventlet.GreenPool(16).imap(act, range(16)))
        assert outcomes.count("won") == 1
        final = db.tasks.find_one({"_id": doc_id})
        assert final is not None
        assert len(final["history"]) == 1
        assert final["status"] == f"taken-by-{final['history'][0]}"
        assert final["rev"] == 1


def test_the_counter_never_repeats_a_number(db: Database[dict[str, Any]]) -> None:
    def take(_: int) -> int:
        return take_next(db, "numbers", 0, utcnow())

    numbers = list(eventlet.GreenPool(16).imap(take, range(64)))
    assert sorted(numbers) == list(range(64))


def test_a_writer_killed_between_claim_and_write_is_rolled_forward(
    db: Database[dict[str, Any]],
) -> None:
    db.payouts.insert_one({"_id": "po-1", "status": "new", "rev": 0})
    document = db.payouts.find_one({"_id": "po-1"})
    assert document is not None
    earlier = utcnow() - timedelta(seconds=5)
    # The killed writer's claim, with its update, and no write after it.
    db.claims.insert_one(
        {
            "_id": "payouts:po-1:rev0",
            "at": earlier,
            "redo": [
                {"op": "$set", "k": "status", "v": "reserving"},
                {"op": "$set", "k": "rev", "v": 1},
            ],
        }
    )
    with pytest.raises(Conflict):
        advance(db, "payouts", document, {"$set": {"status": "unfunded"}}, utcnow())
    rolled = db.payouts.find_one({"_id": "po-1"})
    assert rolled is not None
    assert (rolled["status"], rolled["rev"]) == ("reserving", 1)
    moved = advance(db, "payouts", rolled, {"$set": {"status": "offered"}}, utcnow())
    assert (moved["status"], moved["rev"]) == ("offered", 2)


def test_a_fresh_claim_is_left_to_its_writer(db: Database[dict[str, Any]]) -> None:
    db.payouts.insert_one({"_id": "po-2", "status": "new", "rev": 0})
    document = db.payouts.find_one({"_id": "po-2"})
    assert document is not None
    db.claims.insert_one(
        {
            "_id": "payouts:po-2:rev0",
            "at": utcnow(),
            "redo": [
                {"op": "$set", "k": "status", "v": "reserving"},
                {"op": "$set", "k": "rev", "v": 1},
            ],
        }
    )
    with pytest.raises(Conflict):
        advance(db, "payouts", document, {"$set": {"status": "unfunded"}}, utcnow())
    untouched = db.payouts.find_one({"_id": "po-2"})
    assert untouched is not None
    assert untouched["status"] == "new"  # a live writer is milliseconds from its write
