"""What every service's store shares: the database it wraps, an insert that says whether it
won a unique key, and the claims, counters and outbox of :mod:`services.common` on that
database. Each service's ``store.py`` adds the methods named for what it does."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from services.common import claims, outbox
from services.common.document import Document


def inserted(collection: Collection[Document], document: Document) -> bool:
    """Insert ``document``; False when a unique key (``_id`` or another) already holds it:
    the FerretDB-safe way to write something once."""
    try:
        collection.insert_one(document)
    except DuplicateKeyError:
        return False
    return True


_SEEN_LOCK = threading.Lock()  # green under eventlet, as nameko's workers are


class ServiceStore:
    def __init__(self, database: Database[Document]) -> None:
        self.database = database

    @property
    def name(self) -> str:
        """The database's name (keys a process-wide cache per database)."""
        return self.database.name

    def claim(self, key: str, now: datetime, **detail: Any) -> bool:
        return claims.claim(self.database, key, now, **detail)

    def claimed(self, key: str) -> Document | None:
        return self.database[claims.CLAIMS].find_one({"_id": key})

    def claimed_once(self, key: str, seen: set[str]) -> bool:
        """Whether claim ``key`` is taken, kept per process (in ``seen``, by database name)
        once it is: for a claim that is never released (a filing done)."""
        if self.database.name in seen:
            return True
        if self.claimed(key) is None:
            return False
        with _SEEN_LOCK:
            seen.add(self.database.name)
        return True

    def release_claim(self, key: str) -> None:
        self.database[claims.CLAIMS].delete_one({"_id": key})

    def take_next(self, counter: str, start: int, now: datetime) -> int:
        return claims.take_next(self.database, counter, start, now)

    def stage_events(self, now: datetime, commit: outbox.Commit, *events: outbox.Event) -> None:
        """Events that leave when ``commit`` (the change's last write) is found done."""
        outbox.stage(self.database, now, commit, *events)
