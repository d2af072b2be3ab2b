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

from datetime import UTC, datetime, timedelta

from services.common.document import Document
from services.tasks.store import SCHEDULE_PREFIX, TaskStore


def bucket(moment: datetime) -> str:
    return SCHEDULE_PREFIX + moment.astimezone(UTC).strftime("%Y%m%d%H")


def put(
    store: TaskStore, task_id: str, deadline: int, card: str, at: datetime, now: datetime
) -> None:
    """Schedule a card; one already due goes in the current hour (past hours get dropped)."""
    entry = {
        "_id": f"{task_id}:{deadline}:{card}",
        "task": task_id,
        "deadline": deadline,
        "card": card,
        "at": at,
    }
    store.schedule(bucket(max(at, now)), entry)


def due_buckets(store: TaskStore, now: datetime) -> list[str]:
    """The hour collections that have begun, oldest first."""
    current = bucket(now)
    return [name for name in store.schedule_buckets() if name <= current]


def due_entries(store: TaskStore, now: datetime, limit: int) -> list[tuple[str, Document]]:
    """Up to ``limit`` entries due at ``now``, each with the hour collection holding it."""
    found: list[tuple[str, Document]] = []
    stale = bucket(now - timedelta(hours=2))
    for name in due_buckets(store, now):
        if len(found) >= limit:
            break
        entries = store.due_in(name, now, limit - len(found))
        if not entries and name < stale:
            store.drop_bucket_if_empty(name)  # swept clean, well after anyone could write
        found.extend((name, entry) for entry in entries)
    return found


def done(store: TaskStore, name: str, entry_id: str) -> None:
    store.unschedule(name, entry_id)
