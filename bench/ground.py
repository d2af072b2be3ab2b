"""The ground's own figures, measured in the same run as a bench so that each figure of ours
stands beside what the database and the CPU allow on this machine at this moment: raw
pymongo against the same FerretDB (single inserts from several threads, bulk inserts, reads
by ``_id``) and raw Ed25519 signature checks. Each bench prints them with its ratio.

    .venv/bin/python -m bench.ground
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pymongo
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

MONGO_URL = os.environ.get("MONGO_URL", "mongodb://127.0.0.1:27017/")
Document = dict[str, Any]


def _rate(work: Callable[[], int], seconds: float) -> float:
    """Operations per second of ``work`` (which returns how many it did) run for
    ``seconds``."""
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        done += work()
    return done / (time.perf_counter() - started)


def ed25519_verifies_per_s(seconds: float = 2.0) -> float:
    key = Ed25519PrivateKey.generate()
    message = b"x" * 200
    signature, public = key.sign(message), key.public_key()

    def one() -> int:
        public.verify(signature, message)
        return 1

    return _rate(one, seconds)


def database_figures(threads: int = 16, seconds: float = 3.0) -> dict[str, float]:
    """Single inserts from ``threads`` threads, bulk inserts of 1,000 and reads by ``_id``,
    each in a scratch database dropped afterwards."""
    client: pymongo.MongoClient[Document] = pymongo.MongoClient(MONGO_URL, maxPoolSize=threads)
    name = f"bench_ground_{uuid.uuid4().hex[:8]}"
    collection = client[name].ground
    try:
        collection.insert_one({"_id": "warm"})
        stop = time.perf_counter() + seconds
        counts = [0] * threads

        def inserter(slot: int) -> None:
            while time.perf_counter() < stop:
                collection.insert_one({"_id": uuid.uuid4().hex, "n": slot, "pad": "x" * 200})
                counts[slot] += 1

        started = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(inserter, range(threads)))
        single = sum(counts) / (time.perf_counter() - started)

        def bulk() -> int:
            batch = [{"_id": uuid.uuid4().hex, "pad": "x" * 200} for _ in range(1000)]
            collection.insert_many(batch, ordered=False)
            return len(batch)

        bulked = _rate(bulk, seconds)
        ids = [d["_id"] for d in collection.find({}, {"_id": 1}).limit(1000)]
        position = 0

        def read() -> int:
            nonlocal position
            position = (position + 1) % len(ids)
            collection.find_one({"_id": ids[position]})
            return 1

        reads = _rate(read, seconds)
    finally:
        client.drop_database(name)
        client.close()
    return {
        f"single_inserts_per_s_{threads}_threads": round(single, 1),
        "bulk_inserts_per_s": round(bulked, 1),
        "id_reads_per_s_one_thread": round(reads, 1),
    }


def figures() -> dict[str, float]:
    return {**database_figures(), "ed25519_verifies_per_s": round(ed25519_verifies_per_s())}


def ratio(ours: float, ground: float) -> float:
    return round(ours / ground, 4) if ground else 0.0


if __name__ == "__main__":
    print(json.dumps(figures()))
