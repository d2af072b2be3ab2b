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

from services.common.mongo import put_document, racing_bulk_upsert
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
