"""Events leave through an outbox: written with the state change, relayed at least once.

There are no transactions on FerretDB, so "with the change" means the change's own unique
key. An event is *staged* before the change, naming the document whose existence commits it
(the new certificate, the revision claim of :func:`services.common.claims.advance`, the
person's record): from then on exactly one of two things happens.

* The change is made: its commit document exists, and :func:`relay` publishes the event
  (and deletes it from the outbox). A worker killed after the change and before the relay
  loses nothing: the next relay, in this process or another, finds both.
* The change is not made (refused, lost a race, the worker died first): no commit document
  ever appears, and after ``ABANDON_AFTER`` the event is dropped, never published.

At least once: two relays (two replicas, a relay killed between publish and delete) may
publish an event twice, so every event carries its ``event_id`` and consumers key what they
do by it (:func:`services.common.receipts.first`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.database import Database
from pymongo.errors import BulkWriteError

from services.common.codec import to_wire
from services.common.document import Document
from services.common.logs import request_id_var
from services.common.mongo import Index

log = logging.getLogger(__name__)

OUTBOX = "outbox"
INDEX = Index(OUTBOX, [("at", 1)])
# Longer than any worker takes between staging and committing (milliseconds when alive):
# an event still uncommitted after this was never going to be.
ABANDON_AFTER = timedelta(minutes=10)
BATCH = 500
# How often each service relays its whole outbox (what a worker's own relay, right after
# it answered, did not send: it died first, or its change was committed by another).
RELAY_SECONDS = float(os.environ.get("OUTBOX_RELAY_SECONDS", "0.5"))
# The events the current worker staged, for its own relay (services.common.outbox_relay).
staged_here: ContextVar[list[str] | None] = ContextVar("staged_here", default=None)


@dataclass(frozen=True)
class Commit:
    """The document whose existence means the change happened; when ``listed``, a claim
    that several writers race for, which commits only the events its ``events`` name (the
    winner's)."""

    collection: str
    id: str
    listed: bool = False


@dataclass(frozen=True)
class Event:
    """One event a change causes. ``id`` is unique to that change (``cert_issued:cert_…``),
    so staging it twice (a retried request) queues it once."""

    name: str
    id: str
    payload: Mapping[str, Any]


def stage(db: Database[Document], now: datetime, commit: Commit, *events: Event) -> None:
    """Before the change: the events it causes, to leave once ``commit`` exists."""
    if not events:
        return
    documents = [
        {
            "_id": event.id,
            "name": event.name,
            # the request that caused it travels on: the consumer's logs carry it
            "payload": to_wire(
                {"request_id": request_id_var.get(), **event.payload, "event_id": event.id}
            ),
            "commit": {"collection": commit.collection, "id": commit.id, "listed": commit.listed},
            "at": now,
        }
        for event in events
    ]
    try:
        db[OUTBOX].insert_many(documents, ordered=False)
    except BulkWriteError as exc:  # staged before, by this very change retried
        if any(error.get("code") != 11000 for error in exc.details.get("writeErrors", [])):
            raise
    mine = staged_here.get()
    if mine is not None:
        mine.extend(event.id for event in events)


@dataclass(frozen=True)
class Relayed:
    sent: int
    abandoned: int
    waiting: int


def relay(
    db: Database[Document],
    dispatch: Callable[[str, Any], None],
    now: datetime,
    limit: int = BATCH,
    only: list[str] | None = None,
) -> Relayed:
    """Publish every staged event whose change happened, oldest first, then delete it; drop
    those whose change never happened; leave those whose change may still happen. ``only``:
    just these events (a worker's own), each read by its id."""
    if only is None:
        entries = list(db[OUTBOX].find({}).sort("at", 1).limit(limit))
    else:
        found = (db[OUTBOX].find_one({"_id": event_id}) for event_id in only)
        entries = [entry for entry in found if entry is not None]
    sent = abandoned = waiting = 0
    for entry in entries:
        if committed(db, entry):
            dispatch(entry["name"], entry["payload"])
            db[OUTBOX].delete_one({"_id": entry["_id"]})
            sent += 1
        elif _aware(entry["at"]) < now - ABANDON_AFTER:
            log.info("event %s dropped: its change never happened", entry["_id"])
            db[OUTBOX].delete_one({"_id": entry["_id"]})
            abandoned += 1
        else:
            waiting += 1
    return Relayed(sent, abandoned, waiting)


def committed(db: Database[Document], entry: Document) -> bool:
    commit = entry["commit"]
    found = db[commit["collection"]].find_one({"_id": commit["id"]}, {"events": 1})
    if found is None:
        return False
    return not commit.get("listed") or entry["_id"] in (found.get("events") or [])


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)
