"""The Mongo dependency provider shared by every nameko service.

The client is built in ``setup``, the indexes each service declares are created in
``start`` (retrying while the database comes up), and the client is closed in ``stop``.
Code must run on MongoDB ≥ 6 and on FerretDB 1.24: no transactions, no ``$lookup``,
no TTL or partial indexes.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from nameko.extensions import DependencyProvider
from pymongo import MongoClient
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import BulkWriteError, DuplicateKeyError, PyMongoError

from services.common.config import load_settings
from services.common.dbcommands import COMMAND_COUNT
from services.common.document import Document
from services.common.errors import Unavailable

log = logging.getLogger(__name__)

T = TypeVar("T")


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
        event_listeners=[COMMAND_COUNT],
    )


def ensure_indexes(database: Database[Document], indexes: Sequence[Index]) -> None:
    for index in indexes:
        database[index.collection].create_index(
            list(index.keys), unique=index.unique, name=index.index_name, **index.options
        )


def by_ids(
    collection: Collection[Document], ids: Iterable[Any], fields: Document | None = None
) -> list[Document]:
    """The documents of ``ids`` that exist, in the order of the sorted distinct ids, each
    read by ``_id`` alone: FerretDB serves a lone ``_id`` from its index but scans the whole
    collection for ``{"_id": {"$in": ...}}`` (9 s over 20,000 organisations, measured)."""
    found = (collection.find_one({"_id": i}, fields) for i in sorted(set(ids)))
    return [d for d in found if d is not None]


def racing_upsert(write: Callable[[], T], attempts: int = 3) -> T:
    """Run an upsert that another process may run at the same moment (two replicas' timers,
    two seeds): both find nothing, both insert, one gets a duplicate key. The document exists
    then, so the same write again updates it in place. (MongoDB retries such an upsert itself
    when the filter is on the unique key; FerretDB does not.)"""
    for attempt in range(1, attempts):
        try:
            return write()
        except DuplicateKeyError:
            time.sleep(random.uniform(0.01, 0.05) * attempt)  # out of step with the other
    return write()


def put_document(collection: Collection[Document], key: Any, document: Document) -> None:
    """Replace the document with ``_id`` ``key``, or insert it, even when another process
    puts the same one at the same moment (a timer's record on two replicas, two admins)."""
    racing_upsert(lambda: collection.replace_one({"_id": key}, document, upsert=True))


# Updates per bulk request. FerretDB 1.24 (SQLite) keeps each update's read cursor, and the
# pooled connection under it, until the whole request ends; a database has 100 connections,
# so a request updating 100 existing documents waits for itself forever and holds the
# database with it (measured: 200 ``UpdateOne`` of existing documents never answered, and
# nothing else on that database did either). Inserts through an upsert are not held.
UPDATES_AT_ONCE = 50
INSERTS_AT_ONCE = 1000


def insert_new(collection: Collection[Document], documents: Sequence[Document]) -> list[Document]:
    """Insert ``documents`` in bulk (``INSERTS_AT_ONCE`` a request, unordered); those whose
    ``_id`` someone else wrote first, for the caller to merge (a filing beside live writes)."""
    taken: list[Document] = []
    for start in range(0, len(documents), INSERTS_AT_ONCE):
        chunk = documents[start : start + INSERTS_AT_ONCE]
        try:
            collection.insert_many(chunk, ordered=False)
        except BulkWriteError as error:
            taken += [chunk[e["index"]] for e in error.details["writeErrors"]]
    return taken


def racing_bulk_upsert(collection: Collection[Document], writes: Sequence[Any]) -> None:
    """Unordered upserts (``ReplaceOne`` / ``UpdateOne`` with ``upsert=True``) that another
    process may write at the same moment: the lost ones are written again, as
    :func:`racing_upsert` does. MongoDB reports a lost upsert as a duplicate key in a
    ``BulkWriteError``; FerretDB 1.24 answers without ``nModified``, which pymongo meets as a
    ``KeyError`` (measured: 70 of 120 racing batches). Sent :data:`UPDATES_AT_ONCE` at a
    time."""
    for start in range(0, len(writes), UPDATES_AT_ONCE):
        _racing_bulk(collection, writes[start : start + UPDATES_AT_ONCE])


def _racing_bulk(collection: Collection[Document], writes: Sequence[Any]) -> None:

    def lost_a_race(exc: BulkWriteError | KeyError) -> bool:
        if isinstance(exc, KeyError):
            return exc.args == ("nModified",)
        return all(e.get("code") == 11000 for e in exc.details.get("writeErrors", []))

    def write() -> None:
        try:
            collection.bulk_write(list(writes), ordered=False)
        except (BulkWriteError, KeyError) as exc:
            if not lost_a_race(exc):
                raise
            raise DuplicateKeyError("an upsert of the batch lost a race") from exc

    racing_upsert(write)


def database_of(service: Any) -> Database[Document]:
    """A service's database: the one behind its store, or the ``db`` of a service that
    reads and writes without one."""
    store = getattr(service, "store", None)
    found: Database[Document] = store.database if store is not None else service.db
    return found


def ping(database: Database[Document]) -> None:
    """Raise :class:`Unavailable` when the database does not answer."""
    try:
        database.command("ping")
    except PyMongoError as exc:
        raise Unavailable("database unavailable") from exc


# Data a service puts in place when it starts (its catalogue, a first account): idempotent,
# given the service's database and its config.


class MongoDatabase(DependencyProvider):  # type: ignore[misc]
    """Hands each worker the service's own database (``{DB_PREFIX}{service}``), or the
    service's store over it (``store``: the class that wraps the database); at start it
    creates the declared indexes, then runs the service's seeds (each given what workers
    get)."""

    def __init__(
        self,
        service: str,
        indexes: Sequence[Index] = (),
        seeds: Sequence[Callable[[Any, Mapping[str, Any]], None]] = (),
        start_timeout: float = 60.0,
        store: Callable[[Database[Document]], Any] | None = None,
    ):
        self.service = service
        self.indexes = indexes
        self.seeds = seeds
        self.start_timeout = start_timeout
        self.store = store
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
            # Another replica may seed the same documents at the same moment: a seed is
            # idempotent, so it runs again (updates in place now), out of step with the other.
            handed = self.store(self.database) if self.store else self.database
            racing_upsert(partial(seed, handed, self.container.config), attempts=8)

    def stop(self) -> None:
        if self.client is not None:
            self.client.close()

    def kill(self) -> None:
        self.stop()

    def get_dependency(self, worker_ctx: Any) -> Any:
        assert self.database is not None
        return self.store(self.database) if self.store else self.database
