"""Two replicas writing the same documents at the same moment (a seed, a timer's record, a
batch of matches): every writer finishes and every document is there once, on the real
database, where a lost upsert is a duplicate key (MongoDB) or an answer pymongo cannot read
(FerretDB)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import eventlet
import pymongo
import pytest
from pymongo import ReplaceOne
from pymongo.database import Database

from services.common.mongo import by_ids, put_document, racing_bulk_upsert
from tests.conftest import MONGO_URL

Db = Database[dict[str, Any]]
WRITERS, ROUNDS = 4, 10


@pytest.fixture
def db() -> Iterator[Db]:
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(MONGO_URL)
    name = f"it_upserts_{uuid.uuid4().hex[:8]}"
    yield client[name]
    client.drop_database(name)
    client.close()


def race(job: Any) -> list[Any]:
    with eventlet.Timeout(60):
        return list(eventlet.GreenPool(WRITERS).imap(job, range(WRITERS)))


def test_writers_of_one_batch_of_matches_all_finish(db: Db) -> None:
    for n in range(ROUNDS):
        collection = db[f"matches_{n}"]
        batch = [ReplaceOne({"_id": f"m{i}"}, {"eligible": "yes"}, upsert=True) for i in range(5)]
        race(lambda _writer, c=collection, b=batch: racing_bulk_upsert(c, b))
        assert collection.count_documents({}) == 5


def test_writers_of_one_record_all_finish(db: Db) -> None:
    for n in range(ROUNDS):
        collection = db[f"sweeps_{n}"]

        def record(writer: int, c: Any = collection) -> None:
            put_document(c, "sweep", {"by": writer})

        race(record)
        assert collection.count_documents({}) == 1


def test_a_batch_updating_hundreds_of_documents_answers_and_leaves_the_database_usable(
    db: Db,
) -> None:
    """A policy re-matched against 300 policies replaces 300 existing matches: FerretDB held
    one connection per update until the request ended, so one request of 100 or more never
    answered and took the database down with it; batches are sent in smaller requests."""
    db.matches.insert_many([{"_id": f"m{n}", "eligible": "no"} for n in range(300)])
    writes = [ReplaceOne({"_id": f"m{n}"}, {"eligible": "yes"}, upsert=True) for n in range(300)]
    with eventlet.Timeout(60):
        racing_bulk_upsert(db.matches, writes)
        assert db.matches.count_documents({"eligible": "yes"}) == 300
        assert db.matches.find_one({"_id": "m0"}) == {"_id": "m0", "eligible": "yes"}


def test_documents_read_by_their_ids(db: Db) -> None:
    db.things.insert_many([{"_id": f"t_{n}", "name": f"n{n}", "other": n} for n in range(5)])
    found = by_ids(db.things, ["t_3", "t_1", "t_missing", "t_3"], {"name": 1})
    assert found == [{"_id": "t_1", "name": "n1"}, {"_id": "t_3", "name": "n3"}]
    assert by_ids(db.things, []) == []
