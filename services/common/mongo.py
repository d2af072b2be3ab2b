"""The Mongo dependency provider shared by every nameko service.

The client is built in ``setup``, the indexes each service declares are created in
``start`` (retrying while the database comes up), and the client is closed in ``stop``.
Code must run on MongoDB ≥ 6 and on FerretDB 1.24: no transactions, no ``$lookup``,
no TTL or partial indexes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from nameko.extensions import DependencyProvider
from pymongo import MongoClient
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError, PyMongoError

from services.common.config import load_settings
from services.common.errors import Unavailable

log = logging.getLogger(__name__)

Document = dict[str, Any]


@dataclass(frozen=True)
class Index:
    """One index a service needs: ``Index("accounts", [("username", 1)], unique=True)``."""

    collection: str
    keys: Sequence[tuple[str, int]]
    unique: bool = False
    name: str | None = None
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def index_name(self) -> str:
        return self.name or "_".join(f"{k}_{d}" for k, d in self.keys)


def client_for(url: str) -> MongoClient[Document]:
    return MongoClient(
        url,
        tz_aware=True,
        serverSelectionTimeoutMS=3000,
        connectTimeoutMS=3000,
        socketTimeoutMS=20000,
        retryWrites=False,  # FerretDB 1.x has no retryable writes; our writes are idempotent
        appname="one-code-city",
    )


def ensure_indexes(database: Database[Document], indexes: Sequence[Index]) -> None:
    for index in indexes:
        database[index.collection].create_index(
            list(index.keys), unique=index.unique, name=index.index_name, **index.options
        )


def ping(database: Database[Document]) -> None:
    """Raise :class:`Unavailable` when the database does not answer."""
    try:
        database.command("ping")
    except PyMongoError as exc:
        raise Unavailable("database unavailable") from exc


# Data a service puts in place when it starts (its catalogue, a first account): idempotent,
# given the service's database and its config.
Seed = Callable[[Database[Document], Mapping[str, Any]], None]


class MongoDatabase(DependencyProvider):  # type: ignore[misc]
    """Hands each worker the service's own database (``{DB_PREFIX}{service}``); at start it
    creates the declared indexes, then runs the service's seeds."""

    def __init__(
        self,
        service: str,
        indexes: Sequence[Index] = (),
        seeds: Sequence[Seed] = (),
        start_timeout: float = 60.0,
    ):
        self.service = service
        self.indexes = indexes
        self.seeds = seeds
        self.start_timeout = start_timeout
        self.client: MongoClient[Document] | None = None
        self.database: Database[Document] | None = None

    def setup(self) -> None:
        settings = load_settings(self.container.config)
        self.client = client_for(settings.MONGO_URL)
        self.database = self.client[settings.database_name(self.service)]

    def start(self) -> None:
        assert self.database is not None
        deadline = time.monotonic() + self.start_timeout
        while True:
            try:
                ensure_indexes(self.database, self.indexes)
                break
            except PyMongoError:
                if time.monotonic() > deadline:
                    raise
                log.warning("database not ready, retrying index creation", exc_info=True)
                time.sleep(1.0)
        for seed in self.seeds:
            for attempt in range(3):
                try:
                    seed(self.database, self.container.config)
                    break
                except DuplicateKeyError:
                    # Another replica inserted the same seeded document at the same moment
                    # (an upsert race): run the seed again, now an update in place.
                    if attempt == 2:
                        raise

    def stop(self) -> None:
        if self.client is not None:
            self.client.close()

    def kill(self) -> None:
        self.stop()

    def get_dependency(self, worker_ctx: Any) -> Database[Document]:
        assert self.database is not None
        return self.database
