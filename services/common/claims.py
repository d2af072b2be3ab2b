"""Compare-and-set that holds on MongoDB and on FerretDB alike.

FerretDB 1.24 (SQLite backend) applies ``update`` and ``findAndModify`` as read, change in
memory, write back, with nothing stopping two writers in between: measured here, 16 threads
doing ``$inc`` lost 300 of 320 increments, and a conditional update from state "a" to "b" had
two to four winners. Unique indexes, however, are enforced by both engines. So every guard
in this code base is an insert into a unique key:

* :func:`advance` moves a document from revision ``rev`` to ``rev + 1``: the caller that
  inserts the claim ``{collection}:{id}:rev{rev}`` is the only one allowed to write; the
  others get :class:`Conflict` with the current state.
* :func:`take_next` hands out consecutive numbers (a counter) by claiming each number once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from services.common.errors import Conflict
from services.common.mongo import Document

CLAIMS = "claims"


def claim(db: Database[Document], key: str, now: datetime, **detail: Any) -> bool:
    """True for exactly one caller per key, whatever the concurrency and the engine."""
    try:
        db[CLAIMS].insert_one({"_id": key, "at": now, **detail})
    except DuplicateKeyError:
        return False
    return True


def advance(
    db: Database[Document],
    collection: str,
    document: Document,
    update: Document,
    now: datetime,
    state_field: str = "status",
) -> Document:
    """Apply ``update`` ($set / $push …) to ``document`` if nobody changed it since it was read;
    bumps its ``rev``. Returns the document as it is now."""
    rev = int(document.get("rev", 0))
    if not claim(db, f"{collection}:{document['_id']}:rev{rev}", now):
        current = db[collection].find_one({"_id": document["_id"]}) or document
        raise Conflict(
            "someone else changed this at the same time; reload and retry",
            state=current.get(state_field),
        )
    update = {**update, "$set": {**update.get("$set", {}), "rev": rev + 1}}
    # Filtered by _id alone: the claim already makes this caller the only writer of this
    # revision, and FerretDB serves only a lone _id filter from an index.
    db[collection].update_one({"_id": document["_id"]}, update)
    found = db[collection].find_one({"_id": document["_id"]})
    assert found is not None
    return found


def take_next(db: Database[Document], counter: str, start: int, now: datetime) -> int:
    """The next number of ``counter`` (from ``start``, a hint that may lag): each number is
    claimed once, so no two callers ever get the same one."""
    number = start
    while not claim(db, f"counter:{counter}:{number}", now):
        number += 1
    return number
