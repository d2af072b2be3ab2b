"""Integration fixtures: a real nameko container on a fresh vhost of the real RabbitMQ
(nameko's ``rabbit_config``) and a fresh database on the real MongoDB-protocol server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pymongo
import pytest

from tests.conftest import MONGO_URL, drop_databases


@pytest.fixture
def service_config(rabbit_config: dict[str, Any]) -> Iterator[dict[str, Any]]:
    prefix = f"it_{uuid.uuid4().hex[:8]}_"
    config = {
        **rabbit_config,
        "MONGO_URL": MONGO_URL,
        "DB_PREFIX": prefix,
        "ENVIRONMENT": "test",
        "max_workers": 16,
    }
    yield config
    drop_databases(prefix)


@pytest.fixture
def scratch_db() -> Iterator[Any]:
    """A database of its own on the real server, dropped afterwards (for a module's functions
    called directly, without a container)."""
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(MONGO_URL, tz_aware=True)
    name = f"it_db_{uuid.uuid4().hex[:8]}"
    yield client[name]
    client.drop_database(name)
    client.close()
