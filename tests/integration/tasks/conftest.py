"""Tasks fixtures: the service's database on the real server, a tiny jurisdiction."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from services.common.actor import Actor
from services.common.config import load_settings
from services.common.mongo import client_for
from services.tasks import ladder, sources
from services.tasks.store import TaskStore

DISPATCHER = Actor(account_id="acc_hotline", roles=("staff",), org_path="C/HP", name="12345")
STREET = Actor(account_id="acc_nh", roles=("staff",), org_path="C/HP/NH", name="南湖")


@pytest.fixture
def tasks_store(service_config: dict[str, Any]) -> Iterator[TaskStore]:
    """The service's store on the real database, seeded as the service seeds it."""
    settings = load_settings(service_config)
    client = client_for(settings.MONGO_URL)
    store = TaskStore(client[settings.database_name("tasks")])
    sources.seed(store, service_config)
    ladder.seed(store, service_config)
    yield store
    client.close()
