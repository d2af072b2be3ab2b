"""Collections in memory, for the in-memory stores the unit tests use (one per service, each
implementing every method of that service's store): documents copied in and out as a
database would, inserts that refuse a taken ``_id``."""

from __future__ import annotations

import copy
from typing import Any

from services.common.mongo import Document


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


def project(document: Document, fields: Document | None) -> Document:
    """A copy, with only ``_id`` and the fields asked for when some are."""
    if not fields:
        return copy.deepcopy(document)
    return copy.deepcopy({k: v for k, v in document.items() if k == "_id" or fields.get(k)})
