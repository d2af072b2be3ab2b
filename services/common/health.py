"""The ``health`` answer every service gives: its name and whether its database answers."""

from __future__ import annotations

from typing import Any

from pymongo.database import Database

from services.common.document import Document
from services.common.mongo import ping


def check(service: str, database: Database[Document]) -> dict[str, Any]:
    ping(database)
    return {"service": service, "status": "ok", "database": "ok"}
