"""Compare-and-set that holds on MongoDB and on FerretDB alike.

FerretDB 1.24 (SQLite backend) applies ``update`` and ``findAndModify`` as read, change in
memory, write back, with nothing stopping two writers in between: measured here, 16 threads
doing ``$inc`` lost 300 of 320 increments, and a conditional update from state "a" to "b" had
two to four winners. Unique indexes, however, are enforced by both engines. So every guard
in this code base is an insert into a unique key:

* :func:`advance` moves a document from revision ``rev`` to ``rev + 1``: the caller that
  inserts the claim ``{collection}:{id}:rev{rev}`` is the only one allowed to write; the
  others get :class:`Conflict` with the current state. The claim carries its ``$set`` /
  ``$unset`` update, so a writer killed between the claim and the write is rolled forward
  by the next caller instead of blocking the document for ever. The events the change
  causes are listed in the claim too: the claim commits them (:mod:`services.common.outbox`).
* :func:`take_next` hands out consecutive numbers (a counter) by claiming each number once.
* :func:`listed` adds to and takes from a list kept in one document (a shelf, a day's file),
  by :func:`advance`, never by ``$addToSet`` / ``$pull`` in place.
"""

from __future__ import annotations

import copy
import random
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from bson import decode, encode
from bson.codec_options import CodecOptions
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from services.common import outbox
from services.common.codec import utcnow
from services.common.document import Document
from services.common.errors import Conflict

CLAIMS = "claims"
STORED: CodecOptions[Document] = CodecOptions(document_class=dict, tz_aware=True)
STUCK_AFTER = timedelta(seconds=1)
LISTING_ATTEMPTS = 20  # a list written by another process meanwhile is read again


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
    events: Sequence[outbox.Event] = (),
) -> Document:
    """Apply ``update`` ($set / $push …) to ``document`` if nobody changed it since it was read;
    bumps its ``rev``. Returns the document as it is now. ``events`` leave through the outbox
    if and only if this caller's claim wins (the claim lists them)."""
    rev = int(document.get("rev", 0))
    key = f"{collection}:{document['_id']}:rev{rev}"
    update = {**update, "$set": {**update.get("$set", {}), "rev": rev + 1}}
    redo = _replayable(update)
    detail: dict[str, Any] = {"redo": redo} if redo is not None else {}
    if events:
        outbox.stage(db, now, outbox.Commit(CLAIMS, key, listed=True), *events)
        detail["events"] = [event.id for event in events]
    if not claim(db, key, now, **detail):
        current = db[collection].find_one({"_id": document["_id"]}) or document
        if int(current.get("rev", 0)) == rev:
            current = _roll_forward(db, collection, current, key, now) or current
        raise Conflict(
            "someone else changed this at the same time; reload and retry",
            state=current.get(state_field),
        )
    # Filtered by _id alone: the claim already makes this caller the only writer of this
    # revision, and FerretDB serves only a lone _id filter from an index.
    db[collection].update_one({"_id": document["_id"]}, update)
    if redo is not None and "rev" in document:
        # The document as read was revision ``rev`` whole, and this caller alone wrote the
        # next: applying the same $set / $unset here gives what a read would (one round trip
        # fewer per change), with the values as the database keeps them.
        return _as_stored(apply_update(document, update))
    found = db[collection].find_one({"_id": document["_id"]})
    assert found is not None
    return found


def apply_update(document: Document, update: Document) -> Document:
    """A copy of ``document`` with a ``$set`` / ``$unset`` update applied, as the database
    applies one (dotted paths reach into embedded documents, made where missing)."""
    changed = copy.deepcopy(document)
    for op in ("$set", "$unset"):
        for path, value in update.get(op, {}).items():
            *parents, last = str(path).split(".")
            place = changed
            for part in parents:
                inner = place.get(part)
                if not isinstance(inner, dict):
                    inner = place[part] = {}
                place = inner
            if op == "$set":
                place[last] = copy.deepcopy(value)
            else:
                place.pop(last, None)
    return changed


def _as_stored(document: Document) -> Document:
    """What the database would return: times in UTC to the millisecond, tuples as lists."""
    return decode(encode(document), codec_options=STORED)


def _replayable(update: Document) -> list[Document] | None:
    """The update as data another caller can apply again (``$set`` and ``$unset`` only, which
    give the same result however often they are applied); None for anything else."""
    if set(update) - {"$set", "$unset"}:
        return None
    return [
        {"op": op, "k": k, "v": v}
        for op in ("$set", "$unset")
        for k, v in update.get(op, {}).items()
    ]


def _roll_forward(
    db: Database[Document], collection: str, current: Document, key: str, now: datetime
) -> Document | None:
    """A revision claimed and never written (its writer was killed between the two steps)
    would block the document for ever: after STUCK_AFTER, the claim's own update is applied
    by whoever finds it. A live writer takes milliseconds between the claim and the write."""
    stuck = db[CLAIMS].find_one({"_id": key})
    if not stuck or not stuck.get("redo"):
        return None
    at = stuck["at"] if stuck["at"].tzinfo else stuck["at"].replace(tzinfo=UTC)
    if at > now - STUCK_AFTER:
        return None
    update: Document = {}
    for item in stuck["redo"]:
        update.setdefault(item["op"], {})[item["k"]] = item["v"]
    db[collection].update_one({"_id": current["_id"]}, update)
    return db[collection].find_one({"_id": current["_id"]})


def take_next(db: Database[Document], counter: str, start: int, now: datetime) -> int:
    """The next number of ``counter`` (from ``start``, a hint that may lag): each number is
    claimed once, so no two callers ever get the same one."""
    number = start
    while not claim(db, counter_key(counter, number), now):
        number += 1
    return number


def counter_key(counter: str, number: int) -> str:
    """The claim that holds ``number`` of ``counter``."""
    return f"counter:{counter}:{number}"


def listed(
    db: Database[Document],
    collection: str,
    key: str,
    field: str,
    add: Any = None,
    remove: Iterable[Any] = (),
    **fixed: Any,
) -> None:
    """Add ``add`` to, or take ``remove`` from, the list ``field`` of document ``key``: the
    first writer inserts it (a unique ``_id``), later ones compare-and-set through a claimed
    revision (:func:`advance`). FerretDB 1.24 loses concurrent ``$addToSet`` / ``$pull``
    updates of one document (measured: 20 writers at once left 2 and 4 of 20 entries), so an
    update in place is never raced."""
    gone = set(remove)
    for attempt in range(LISTING_ATTEMPTS):
        held = db[collection].find_one({"_id": key})
        if held is None:
            if add is None:
                return
            try:
                db[collection].insert_one({"_id": key, field: [add], "rev": 0, **fixed})
                return
            except DuplicateKeyError:
                continue
        now_listed = list(held.get(field) or [])
        wanted = [i for i in now_listed if i not in gone]
        if add is not None and add not in wanted:
            wanted.append(add)
        if wanted == now_listed:
            return
        try:
            advance(db, collection, held, {"$set": {field: wanted}}, utcnow())
            return
        except Conflict:
            time.sleep(random.uniform(0.002, 0.01) * (attempt + 1))  # out of step
    raise Conflict("this changed too often at once; retry")
