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
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import DeleteOne, ReplaceOne, UpdateOne
from pymongo.errors import BulkWriteError

from services.common.document import Document
from services.common.mongo import UPDATES_AT_ONCE, Index, put_document, racing_bulk_upsert
from services.common.store import ServiceStore, inserted

INDEXES = (
    Index("tasks", [("reach", 1), ("created_at", -1)]),
    Index("tasks", [("reach", 1), ("card", 1), ("status", 1)]),
    Index("notices", [("unit", 1), ("deliver_at", -1)]),
)
SCHEDULE_PREFIX = "schedule_"
CELLS_AT_ONCE = UPDATES_AT_ONCE  # cells a fold writes per request
# runs a function over items, as many at once as it likes (``map``: one after another)
Mapper = Callable[[Callable[[Any], Any], Iterable[Any]], Iterable[Any]]
# The statistics read model, its shape in its collections' names: a new shape starts empty
# and the reconciliation (services.tasks.statsfold) folds every task into it; the
# collections of an older shape are no longer read (v1: ``stats_cells``, ``stats_folded``,
# ``stats_folds``, whose day cells did not keep dispatch times, and their queue
# ``stats_queue``; v2: ``stats_v2_*``, whose board floor was a millisecond only and dropped
# every task of that millisecond) and can be dropped. The first start of a shape fills it before the
# service answers (services.tasks.statsfold.seed).
QUEUE = "stats_v3_queue"
CELLS, FOLDED, FOLDS = "stats_v3_cells", "stats_v3_folded", "stats_v3_folds"
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

    def notices_for(self, unit: str, now: datetime, limit: int) -> list[Document]:
        found = self.database.notices.find({"unit": unit, "deliver_at": {"$lte": now}})
        return list(found.sort("deliver_at", -1).limit(limit))

    # the statistics read model (services.tasks.statsfold): a queue of changed tasks, the
    # cells, what each task was when last folded, and the numbered fold intents

    def queue_stats(self, entry_id: str, task_id: str, rev: int) -> None:
        inserted(self.database[QUEUE], {"_id": entry_id, "task": task_id, "rev": rev})

    def queue_stats_many(self, entries: list[Document]) -> int:
        """Queue ``entries`` (those already queued stay as they are); how many are new."""
        new = 0
        for start in range(0, len(entries), 1000):
            try:
                found = self.database[QUEUE].insert_many(
                    entries[start : start + 1000], ordered=False
                )
                new += len(found.inserted_ids)
            except BulkWriteError as exc:
                new += int(exc.details.get("nInserted", 0))
        return new

    def queued_stats(self, limit: int) -> list[Document]:
        """Some queued changes (no filter, no order: the one read FerretDB limits itself)."""
        return list(self.database[QUEUE].find().limit(limit))

    def forget_queued_stats(self, entry_ids: list[str]) -> None:
        deletes = [DeleteOne({"_id": entry_id}) for entry_id in entry_ids]  # not ``$in``: a scan
        for start in range(0, len(deletes), UPDATES_AT_ONCE):  # as updates, a cursor each
            self.database[QUEUE].bulk_write(deletes[start : start + UPDATES_AT_ONCE], ordered=False)

    def every_task(self, fields: Iterable[str]) -> Iterator[Document]:
        """Every task, with only ``fields`` (and ``_id``): one scan (the reconciliation)."""
        return self.database.tasks.find({}, dict.fromkeys(fields, 1))

    def every_folded(self) -> Iterator[Document]:
        """What the folds kept of every task they counted: one scan."""
        return self.database[FOLDED].find({})

    def load_tasks(self, task_ids: list[str], mapper: Mapper = map) -> list[Document]:
        """The tasks of ``task_ids`` there are, in that order (one read by ``_id`` each,
        ``mapper`` running them, as many at once as it runs: ``$in`` would read them all)."""
        return [t for t in mapper(self.load_task, task_ids) if t is not None]

    def load_cells(self, cell_ids: list[str], mapper: Mapper = map) -> dict[str, Document]:
        """The cells of ``cell_ids`` there are, with the fold that last wrote each (``v``)."""
        found = zip(cell_ids, mapper(self._load_cell, cell_ids), strict=True)
        return {cell_id: cell for cell_id, cell in found if cell is not None}

    def _load_cell(self, cell_id: str) -> Document | None:
        return self.database[CELLS].find_one({"_id": cell_id}, {"_id": 0})

    def write_cells(self, changes: dict[str, tuple[Document, list[str]]], fold: int) -> None:
        """For each cell, set the values and remove the paths given, as fold ``fold``; in
        one request (each write by ``_id``)."""
        writes = []
        for cell_id, (values, gone) in changes.items():
            update: Document = {"$set": {**values, "v": fold}}
            if gone:
                update["$unset"] = dict.fromkeys(gone, "")
            writes.append(UpdateOne({"_id": cell_id}, update, upsert=True))
        racing_bulk_upsert(self.database[CELLS], writes)

    def folded(self, task_ids: list[str], mapper: Mapper = map) -> dict[str, Document]:
        """What the last fold kept of each task, with that fold's number (``v``)."""
        kept = self.database[FOLDED]
        found = mapper(lambda task_id: kept.find_one({"_id": task_id}), task_ids)
        return {str(f["_id"]): f for f in found if f is not None}

    def put_folded(self, kept: dict[str, Document | None], fold: int) -> None:
        """What each task was when fold ``fold`` counted it (None: gone), in one request."""
        writes = [
            ReplaceOne({"_id": task_id}, {"_id": task_id, "facts": facts, "v": fold}, upsert=True)
            for task_id, facts in kept.items()
        ]
        racing_bulk_upsert(self.database[FOLDED], writes)

    def fold_head(self) -> Document | None:
        """The latest fold's number, time and whether it is done."""
        return self.database[FOLDS].find_one({"_id": "head"})

    def put_fold_head(self, head: Document) -> None:
        put_document(self.database[FOLDS], "head", {**head, "_id": "head"})

    def load_fold(self, number: int) -> Document | None:
        return self.database[FOLDS].find_one({"_id": f"fold:{number:012d}"})

    def insert_fold(self, intent: Document) -> bool:
        return inserted(
            self.database[FOLDS], {**intent, "_id": f"fold:{int(intent['number']):012d}"}
        )

    def bury_fold(self, number: int, at: datetime) -> None:
        """Keep of a finished fold only that its number is taken."""
        key = f"fold:{number:012d}"
        put_document(
            self.database[FOLDS], key, {"_id": key, "number": number, "at": at, "buried": True}
        )

    def forget_fold(self, number: int) -> None:
        self.database[FOLDS].delete_one({"_id": f"fold:{number:012d}"})

    # the sweep's own record

    def record_sweep(self, report: Document) -> None:
        put_document(self.database.sweeps, "escalation", report)

    def last_sweep(self) -> Document:
        return self.database.sweeps.find_one({"_id": "escalation"}) or {}
