"""The escalation schedule: one small collection per hour (``schedule_2026112309``) holding
an entry for each escalation due in that hour.

Why not one collection with an index on the due time: FerretDB 1.24 on SQLite serves only
``_id`` lookups from an index and scans the whole collection for every other filter (and
for every sort), measured here at about 40 µs per stored document. A sweep that filtered
``next_escalation_at`` over a million open tasks would read all of them each time. Splitting
the schedule by hour keeps each sweep's work proportional to what is due: it reads only the
hours that have begun, and each of those holds only the entries due in it. On MongoDB the
same layout is as cheap (each hour is a tiny collection, dropped once swept).

An entry's ``_id`` is ``{task}:{deadline}:{card}``, so scheduling twice is harmless.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from services.common.mongo import Document

PREFIX = "schedule_"


def bucket(moment: datetime) -> str:
    return PREFIX + moment.astimezone(UTC).strftime("%Y%m%d%H")


def put(
    db: Database[Document], task_id: str, deadline: int, card: str, at: datetime, now: datetime
) -> None:
    """Schedule a card; one already due goes in the current hour (past hours get dropped)."""
    entry = {
        "_id": f"{task_id}:{deadline}:{card}",
        "task": task_id,
        "deadline": deadline,
        "card": card,
        "at": at,
    }
    with contextlib.suppress(DuplicateKeyError):
        db[bucket(max(at, now))].insert_one(entry)


def due_buckets(db: Database[Document], now: datetime) -> list[str]:
    """The hour collections that have begun, oldest first."""
    current = bucket(now)
    names = db.list_collection_names(filter={"name": {"$regex": f"^{PREFIX}"}})
    return sorted(name for name in names if name <= current)


def due_entries(db: Database[Document], now: datetime, limit: int) -> list[tuple[str, Document]]:
    """Up to ``limit`` entries due at ``now``, each with the hour collection holding it."""
    found: list[tuple[str, Document]] = []
    stale = bucket(now - timedelta(hours=2))
    for name in due_buckets(db, now):
        if len(found) >= limit:
            break
        entries = list(db[name].find({"at": {"$lte": now}}).limit(limit - len(found)))
        if not entries and name < stale and db[name].estimated_document_count() == 0:
            db[name].drop()  # a past hour swept clean, well after anyone could write to it
        found.extend((name, entry) for entry in entries)
    return found


def done(db: Database[Document], name: str, entry_id: str) -> None:
    db[name].delete_one({"_id": entry_id})
