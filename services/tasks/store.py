"""tasks's one door to its database: the only module of tasks that names its collections
(the shared helpers of :mod:`services.common` it calls, claims among them, keep theirs).

Methods are named for what the service does with them. The FerretDB rules live here: hot
paths read by ``_id`` only (tasks, journal events, claims, schedule entries: see
:mod:`services.tasks.schedule` for why), a write that must happen once is an insert into a
unique ``_id`` (a second is harmless), and the readings that grow with use (the board,
notices, queued events) are bounded. The indexes serve the list and statistics queries on
MongoDB; FerretDB keeps them too but scans for those filters.

:class:`TaskStore` works on the real database; unit tests of the domain run on an
in-memory implementation of the same methods (``tests/unit/tasks/memory_store.py``), and
the integration layer tries every method here on FerretDB.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from services.common.document import Document
from services.common.mongo import Index, put_document
from services.common.store import ServiceStore, inserted

INDEXES = (
    Index("tasks", [("reach", 1), ("created_at", -1)]),
    Index("tasks", [("held_within", 1), ("dispatched_at", 1)]),
    Index("tasks", [("reach", 1), ("card", 1), ("status", 1)]),
    Index("notices", [("unit", 1), ("deliver_at", -1)]),
)
SCHEDULE_PREFIX = "schedule_"
PARTNER_PREFIX = "partner:"  # a task's receiver when it was dispatched to a partner system


@dataclass(frozen=True)
class Board:
    """What a list of tasks asks for (validated by :mod:`services.tasks.queries`)."""

    reach: str | None = None  # tasks within this unit's reach ("" or None: every task)
    partner: str | None = None  # a partner's: created by it or sent to it
    statuses: tuple[str, ...] = ()
    source: str | None = None
    category: str | None = None
    level: str | None = None
    card: str | None = None
    due_before: datetime | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    due_from: datetime | None = None
    due_to: datetime | None = None
    title_contains: str | None = None
    sort: str = "created_at"
    descending: bool = True
    offset: int = 0
    limit: int = 50


def _range(low: datetime | None, high: datetime | None) -> Document:
    return ({"$gte": low} if low else {}) | ({"$lt": high} if high else {})


class TaskStore(ServiceStore):
    # tasks and their journal

    def load_task(self, task_id: str) -> Document | None:
        return self.database.tasks.find_one({"_id": task_id})

    def task_rev(self, task_id: str) -> int | None:
        found = self.database.tasks.find_one({"_id": task_id}, {"rev": 1})
        return None if found is None else int(found["rev"])

    def insert_task(self, task: Document) -> bool:
        """False when a task of that id exists."""
        return inserted(self.database.tasks, task)

    def write_task(self, task_id: str, fields: Document) -> None:
        self.database.tasks.update_one({"_id": task_id}, {"$set": fields})

    def load_event(self, event_id: str) -> Document | None:
        return self.database.task_events.find_one({"_id": event_id})

    def append_event(self, event: Document) -> bool:
        """False when the event of that id (that revision) exists: someone else moved first."""
        return inserted(self.database.task_events, event)

    def leave_notice(self, notice: Document) -> None:
        inserted(self.database.notices, notice)

    def queue_event(self, event_id: str, at: datetime) -> None:
        inserted(self.database.outbox, {"_id": event_id, "at": at})

    def queue_webhook(self, entry: Document) -> None:
        inserted(self.database.partner_outbox, entry)

    # what leaves the service

    def queued_events(self, limit: int) -> list[Document]:
        """Oldest first."""
        return list(self.database.outbox.find({}).sort([("at", 1), ("_id", 1)]).limit(limit))

    def forget_event(self, event_id: str) -> None:
        self.database.outbox.delete_one({"_id": event_id})

    def queued_webhooks(self, limit: int) -> list[Document]:
        return list(self.database.partner_outbox.find({}).limit(limit))

    def forget_webhook(self, entry_id: str) -> int:
        return int(self.database.partner_outbox.delete_one({"_id": entry_id}).deleted_count)

    # the escalation schedule: one collection per hour

    def schedule(self, bucket: str, entry: Document) -> None:
        inserted(self.database[bucket], entry)

    def schedule_buckets(self) -> list[str]:
        names = self.database.list_collection_names(
            filter={"name": {"$regex": f"^{SCHEDULE_PREFIX}"}}
        )
        return sorted(names)

    def due_in(self, bucket: str, now: datetime, limit: int) -> list[Document]:
        return list(self.database[bucket].find({"at": {"$lte": now}}).limit(limit))

    def drop_bucket_if_empty(self, bucket: str) -> None:
        if self.database[bucket].estimated_document_count() == 0:
            self.database[bucket].drop()

    def unschedule(self, bucket: str, entry_id: str) -> None:
        self.database[bucket].delete_one({"_id": entry_id})

    # claims: a key taken once (ServiceStore)

    # sources, routing rules, the ladder, the calendar

    def sources(self) -> list[Document]:
        return list(self.database.sources.find({}).sort("_id", 1))

    def load_source(self, code: str) -> Document | None:
        return self.database.sources.find_one({"_id": code})

    def insert_source(self, source: Document) -> bool:
        return inserted(self.database.sources, source)

    def update_source(self, code: str, changes: Document) -> None:
        self.database.sources.update_one({"_id": code}, {"$set": changes})

    def routing_rules(self) -> list[Document]:
        return list(self.database.routing_rules.find({}).sort("_id", 1))

    def load_routing_rule(self, rule_id: str) -> Document | None:
        return self.database.routing_rules.find_one({"_id": rule_id})

    def insert_routing_rule(self, rule: Document) -> bool:
        return inserted(self.database.routing_rules, rule)

    def delete_routing_rule(self, rule_id: str) -> None:
        self.database.routing_rules.delete_one({"_id": rule_id})

    def ladder_rules(self) -> list[Document]:
        return list(self.database.ladder_rules.find({}).sort("_id", 1))

    def load_ladder_rule(self, rule_id: str) -> Document | None:
        return self.database.ladder_rules.find_one({"_id": rule_id})

    def insert_ladder_rule(self, rule: Document) -> bool:
        return inserted(self.database.ladder_rules, rule)

    def put_ladder_rule(self, rule: Document) -> None:
        put_document(self.database.ladder_rules, rule["_id"], rule)

    def delete_ladder_rule(self, rule_id: str) -> None:
        self.database.ladder_rules.delete_one({"_id": rule_id})

    def calendar_years(self) -> list[Document]:
        return list(self.database.calendar_years.find({}))

    def load_calendar_year(self, year: int) -> Document | None:
        return self.database.calendar_years.find_one({"_id": year})

    def insert_calendar_year(self, table: Document) -> bool:
        return inserted(self.database.calendar_years, table)

    def put_calendar_year(self, table: Document) -> None:
        put_document(self.database.calendar_years, table["_id"], table)

    # attachments

    def insert_attachments(self, files: Iterable[Document]) -> None:
        for file in files:
            inserted(self.database.attachments, file)

    def load_attachment(self, attachment_id: str) -> Document | None:
        return self.database.attachments.find_one({"_id": attachment_id})

    # reading many

    def board(self, board: Board) -> list[Document]:
        query: Document = {}
        if board.partner is not None:
            query["$or"] = [
                {"partner": board.partner},
                {"receiver": PARTNER_PREFIX + board.partner},
            ]
        elif board.reach:
            query["reach"] = board.reach
        if board.statuses:
            query["status"] = (
                board.statuses[0] if len(board.statuses) == 1 else {"$in": list(board.statuses)}
            )
        for field in ("source", "category", "level", "card"):
            if getattr(board, field) is not None:
                query[field] = getattr(board, field)
        created = _range(board.created_from, board.created_to)
        due = _range(board.due_from, board.due_to)
        if board.due_before is not None:
            due["$lt"] = min(board.due_before, due.get("$lt", board.due_before))
        if created:
            query["created_at"] = created
        if due:
            query["due_at"] = due
        if board.title_contains:
            query["title"] = {"$regex": re.escape(board.title_contains)}
        order = -1 if board.descending else 1
        cursor = self.database.tasks.find(query).sort([(board.sort, order), ("_id", order)])
        return list(cursor.skip(board.offset).limit(board.limit))

    def dispatched_within(
        self, unit: str, since: datetime | None, until: datetime, fields: Document
    ) -> Iterator[Document]:
        """Every task that ``unit`` or a unit below it held, dispatched in the window."""
        window = _range(since, until)
        yield from self.database.tasks.find({"held_within": unit, "dispatched_at": window}, fields)

    def notices_for(self, unit: str, now: datetime, limit: int) -> list[Document]:
        found = self.database.notices.find({"unit": unit, "deliver_at": {"$lte": now}})
        return list(found.sort("deliver_at", -1).limit(limit))

    # the sweep's own record

    def record_sweep(self, report: Document) -> None:
        put_document(self.database.sweeps, "escalation", report)

    def last_sweep(self) -> Document:
        return self.database.sweeps.find_one({"_id": "escalation"}) or {}
