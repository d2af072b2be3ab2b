"""pymongo inside nameko workers under eventlet on Python 3.11: 200 concurrent RPCs, each a
database round trip, all answered, none lost, no deadlock."""

from __future__ import annotations

from typing import Any

import eventlet
import pymongo
from nameko.rpc import rpc
from nameko.standalone.rpc import ClusterRpcProxy

from services.common.mongo import Index, MongoDatabase


class CounterService:
    name = "counter"
    db = MongoDatabase("counter", [Index("hits", [("n", 1)], unique=True)])

    @rpc
    def hit(self, n: int) -> int:
        self.db.hits.insert_one({"n": n})
        found = self.db.hits.find_one({"n": n})
        assert found is not None
        return int(found["n"])


def test_200_concurrent_rpcs_each_with_a_database_round_trip(
    container_factory: Any, service_config: dict[str, Any]
) -> None:
    container = container_factory(CounterService, service_config)
    container.start()
    with ClusterRpcProxy(service_config) as cluster, eventlet.Timeout(60):
        pending = [cluster.counter.hit.call_async(n) for n in range(200)]
        answers = [reply.result() for reply in pending]
    assert sorted(answers) == list(range(200))
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(service_config["MONGO_URL"])
    try:
        assert client[f"{service_config['DB_PREFIX']}counter"].hits.count_documents({}) == 200
    finally:
        client.close()
