"""Collections in memory, for the in-memory stores the unit tests use (one per service, each
implementing every method of that service's store): documents copied in and out as a
database would, inserts that refuse a taken ``_id``."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from services.common import outbox
from services.common.claims import apply_update, counter_key
from services.common.document import Document
from services.common.errors import Conflict


class MemoryCollections:
    def __init__(self) -> None:  # no database: the store's methods work on these
        self.collections: dict[str, dict[Any, Document]] = {}

    def _of(self, name: str) -> dict[Any, Document]:
        return self.collections.setdefault(name, {})

    def _insert_once(self, name: str, document: Document) -> bool:
        found = self._of(name)
        if document["_id"] in found:
            return False
        found[document["_id"]] = copy.deepcopy(document)
        return True

    def _get(self, name: str, key: Any, fields: Document | None = None) -> Document | None:
        found = self.collections.get(name, {}).get(key)
        return None if found is None else project(found, fields)

    def _all(self, name: str, fields: Document | None = None) -> list[Document]:
        found = self.collections.get(name, {})
        return [project(d, fields) for _k, d in sorted(found.items(), key=lambda i: i[0])]

    def _put(self, name: str, document: Document) -> None:
        self._of(name)[document["_id"]] = copy.deepcopy(document)

    def _update(self, name: str, key: Any, changes: Document) -> None:
        if key in self.collections.get(name, {}):
            self._of(name)[key].update(copy.deepcopy(changes))

    def _delete(self, name: str, key: Any) -> int:
        return 0 if self.collections.get(name, {}).pop(key, None) is None else 1

    def _advance(self, name: str, document: Document, update: Document) -> Document:
        """Compare-and-set on ``rev``, as :func:`services.common.claims.advance` does: the
        update applied and ``rev`` bumped if the stored revision is the one read, else a
        Conflict with the current state."""
        current = self.collections.get(name, {}).get(document["_id"])
        if current is None or int(current.get("rev", 0)) != int(document.get("rev", 0)):
            state = (current or document).get("status")
            raise Conflict("someone else changed this at the same time", state=state)
        changed = apply_update(current, update)
        changed["rev"] = int(current.get("rev", 0)) + 1
        self._put(name, changed)
        return copy.deepcopy(changed)


def project(document: Document, fields: Document | None) -> Document:
    """A copy, with only ``_id`` and the fields asked for when some are."""
    if not fields:
        return copy.deepcopy(document)
    return copy.deepcopy({k: v for k, v in document.items() if k == "_id" or fields.get(k)})


class MemoryClaims(MemoryCollections):
    """What every store has of :class:`services.common.store.ServiceStore`, in memory: claims
    (one caller per key), counters made of claims, and the events staged before a change."""

    def __init__(self) -> None:
        super().__init__()
        self.staged: list[tuple[outbox.Commit, tuple[outbox.Event, ...]]] = []

    def claim(self, key: str, now: datetime, **detail: Any) -> bool:
        return self._insert_once("claims", {"_id": key, "at": now, **detail})

    def claimed(self, key: str) -> Document | None:
        return self._get("claims", key)

    def release_claim(self, key: str) -> None:
        self._delete("claims", key)

    def take_next(self, counter: str, start: int, now: datetime) -> int:
        number = start
        while not self.claim(counter_key(counter, number), now):
            number += 1
        return number

    def stage_events(self, now: datetime, commit: outbox.Commit, *events: outbox.Event) -> None:
        self.staged.append((commit, events))
