"""Tasks fixtures: the service's database on the real server, a tiny jurisdiction."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pymongo.database import Database

from services.common.actor import Actor
from services.common.config import load_settings
from services.common.mongo import Document, client_for
from services.tasks import ladder, sources

DISPATCHER = Actor(account_id="acc_hotline", roles=("staff",), org_path="C/HP", name="12345")
STREET = Actor(account_id="acc_nh", roles=("staff",), org_path="C/HP/NH", name="南湖")


@pytest.fixture
def tasks_db(service_config: dict[str, Any]) -> Iterator[Database[Document]]:
    settings = load_settings(service_config)
    client = client_for(settings.MONGO_URL)
    db = client[settings.database_name("tasks")]
    sources.seed(db, service_config)
    ladder.seed(db, service_config)
    yield db
    client.close()
