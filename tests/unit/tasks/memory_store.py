"""tasks's store in memory: every method of :class:`services.tasks.store.TaskStore`, on
dicts, for unit tests of the domain (tests/integration/tasks/test_store.py runs the same
checks on both). Documents are copied in and out, as a database would; times are kept as
given (the domain gives aware ones), where the database keeps milliseconds in UTC, and it
takes values BSON could not hold: the integration layer is where those would show."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from services.common.claims import apply_update
from services.common.document import Document
from services.tasks.store import PARTNER_PREFIX, SCHEDULE_PREFIX, Board, Mapper, TaskStore
from tests.unit.memory import MemoryClaims


class MemoryTaskStore(MemoryClaims, TaskStore):
    # tasks and their journal

    def load_task(self, task_id: str) -> Document | None:
        return self._get("tasks", task_id)

    def task_rev(self, task_id: str) -> int | None:
        found = self.collections.get("tasks", {}).get(task_id)
        return None if found is None else int(found["rev"])

    def insert_task(self, task: Document) -> bool:
        return self._insert_once("tasks", task)

    def write_task(self, task_id: str, fields: Document) -> None:
        self._update("tasks", task_id, fields)

    def load_event(self, event_id: str) -> Document | None:
        return self._get("task_events", event_id)

    def append_event(self, event: Document) -> bool:
        return self._insert_once("task_events", event)

    def leave_notice(self, notice: Document) -> None:
        self._insert_once("notices", notice)

    def queue_event(self, event_id: str, at: datetime) -> None:
        self._insert_once("outbox", {"_id": event_id, "at": at})

    def queue_webhook(self, entry: Document) -> None:
        self._insert_once("partner_outbox", entry)

    # what leaves the service

    def queued_events(self, limit: int) -> list[Document]:
        return sorted(self._all("outbox"), key=lambda q: (q["at"], q["_id"]))[:limit]

    def forget_event(self, event_id: str) -> None:
        self._delete("outbox", event_id)

    def queued_webhooks(self, limit: int) -> list[Document]:
        return self._all("partner_outbox")[:limit]

    def forget_webhook(self, entry_id: str) -> int:
        return self._delete("partner_outbox", entry_id)

    # the escalation schedule

    def schedule(self, bucket: str, entry: Document) -> None:
        self._insert_once(bucket, entry)

    def schedule_buckets(self) -> list[str]:
        return sorted(n for n in self.collections if n.startswith(SCHEDULE_PREFIX))

    def due_in(self, bucket: str, now: datetime, limit: int) -> list[Document]:
        return [e for e in self._all(bucket) if e["at"] <= now][:limit]

    def drop_bucket_if_empty(self, bucket: str) -> None:
        if not self.collections.get(bucket):
            self.collections.pop(bucket, None)

    def unschedule(self, bucket: str, entry_id: str) -> None:
        self._delete(bucket, entry_id)

    # sources, routing rules, the ladder, the calendar

    def sources(self) -> list[Document]:
        return self._all("sources")

    def load_source(self, code: str) -> Document | None:
        return self._get("sources", code)

    def insert_source(self, source: Document) -> bool:
        return self._insert_once("sources", source)

    def update_source(self, code: str, changes: Document) -> None:
        self._update("sources", code, changes)

    def routing_rules(self) -> list[Document]:
        return self._all("routing_rules")

    def load_routing_rule(self, rule_id: str) -> Document | None:
        return self._get("routing_rules", rule_id)

    def insert_routing_rule(self, rule: Document) -> bool:
        return self._insert_once("routing_rules", rule)

    def delete_routing_rule(self, rule_id: str) -> None:
        self._delete("routing_rules", rule_id)

    def ladder_rules(self) -> list[Document]:
        return self._all("ladder_rules")

    def load_ladder_rule(self, rule_id: str) -> Document | None:
        return self._get("ladder_rules", rule_id)

    def insert_ladder_rule(self, rule: Document) -> bool:
        return self._insert_once("ladder_rules", rule)

    def put_ladder_rule(self, rule: Document) -> None:
        self._put("ladder_rules", rule)

    def delete_ladder_rule(self, rule_id: str) -> None:
        self._delete("ladder_rules", rule_id)

    def calendar_years(self) -> list[Document]:
        return self._all("calendar_years")

    def load_calendar_year(self, year: int) -> Document | None:
        return self._get("calendar_years", year)

    def insert_calendar_year(self, table: Document) -> bool:
        return self._insert_once("calendar_years", table)

    def put_calendar_year(self, table: Document) -> None:
        self._put("calendar_years", table)

    # attachments

    def insert_attachments(self, files: Iterable[Document]) -> None:
        for file in files:
            self._insert_once("attachments", file)

    def load_attachment(self, attachment_id: str) -> Document | None:
        return self._get("attachments", attachment_id)

    # reading many

    def board(self, board: Board) -> list[Document]:
        found = [t for t in self._all("tasks") if _on_board(t, board)]
        found.sort(key=lambda t: (t.get(board.sort) is not None, t.get(board.sort), t["_id"]))
        if board.descending:
            found.reverse()
        return found[board.offset : board.offset + board.limit]

    def notices_for(self, unit: str, now: datetime, limit: int) -> list[Document]:
        found = [n for n in self._all("notices") if n["unit"] == unit and n["deliver_at"] <= now]
        return sorted(found, key=lambda n: n["deliver_at"], reverse=True)[:limit]

    # the statistics read model

    def queue_stats(self, entry_id: str, task_id: str, rev: int) -> None:
        self._insert_once("stats_queue", {"_id": entry_id, "task": task_id, "rev": rev})

    def queue_stats_many(self, entries: list[Document]) -> int:
        return sum(self._insert_once("stats_queue", entry) for entry in entries)

    def queued_stats(self, limit: int) -> list[Document]:
        return self._all("stats_queue")[:limit]

    def forget_queued_stats(self, entry_ids: list[str]) -> None:
        for entry_id in entry_ids:
            self._delete("stats_queue", entry_id)

    def every_task(self, fields: Iterable[str]) -> Iterator[Document]:
        wanted = {"_id", *fields}
        return iter([{k: v for k, v in t.items() if k in wanted} for t in self._all("tasks")])

    def every_folded(self) -> Iterator[Document]:
        return iter(self._all("stats_folded"))

    def load_tasks(self, task_ids: list[str], mapper: Mapper = map) -> list[Document]:
        return [t for t in mapper(self.load_task, task_ids) if t is not None]

    def load_cells(self, cell_ids: list[str], mapper: Mapper = map) -> dict[str, Document]:
        found = {i: self._get("stats_cells", i) for i in cell_ids}
        return {i: {k: v for k, v in c.items() if k != "_id"} for i, c in found.items() if c}

    def write_cells(self, changes: dict[str, tuple[Document, list[str]]], fold: int) -> None:
        for cell_id, (values, gone) in changes.items():
            cell = self._get("stats_cells", cell_id) or {"_id": cell_id}
            update = {"$set": {**values, "v": fold}, "$unset": dict.fromkeys(gone, "")}
            self._put("stats_cells", apply_update(cell, update))

    def folded(self, task_ids: list[str], mapper: Mapper = map) -> dict[str, Document]:
        found = {i: self._get("stats_folded", i) for i in task_ids}
        return {i: f for i, f in found.items() if f is not None}

    def put_folded(self, kept: dict[str, Document | None], fold: int) -> None:
        for task_id, facts in kept.items():
            self._put("stats_folded", {"_id": task_id, "facts": facts, "v": fold})

    def fold_head(self) -> Document | None:
        return self._get("stats_folds", "head")

    def put_fold_head(self, head: Document) -> None:
        self._put("stats_folds", {**head, "_id": "head"})

    def load_fold(self, number: int) -> Document | None:
        return self._get("stats_folds", f"fold:{number:012d}")

    def insert_fold(self, intent: Document) -> bool:
        return self._insert_once(
            "stats_folds", {**intent, "_id": f"fold:{int(intent['number']):012d}"}
        )

    def bury_fold(self, number: int, at: datetime) -> None:
        key = f"fold:{number:012d}"
        self._put("stats_folds", {"_id": key, "number": number, "at": at, "buried": True})

    def forget_fold(self, number: int) -> None:
        self._delete("stats_folds", f"fold:{number:012d}")

    # the sweep's own record

    def record_sweep(self, report: Document) -> None:
        self._put("sweeps", {**report, "_id": "escalation"})

    def last_sweep(self) -> Document:
        return self._get("sweeps", "escalation") or {}


def _between(value: Any, low: datetime | None, high: datetime | None) -> bool:
    if low is None and high is None:
        return True
    return value is not None and (low is None or value >= low) and (high is None or value < high)


def _on_board(task: Document, board: Board) -> bool:
    if board.partner is not None:
        mine = task.get("partner") == board.partner
        if not mine and task.get("receiver") != PARTNER_PREFIX + board.partner:
            return False
    elif board.reach and board.reach not in task.get("reach", []):
        return False
    if board.statuses and task.get("status") not in board.statuses:
        return False
    for field in ("source", "category", "level", "card"):
        wanted = getattr(board, field)
        if wanted is not None and task.get(field) != wanted:
            return False
    due_high = board.due_to
    if board.due_before is not None:
        due_high = min(board.due_before, due_high or board.due_before)
    return (
        _between(task.get("created_at"), board.created_from, board.created_to)
        and _between(task.get("due_at"), board.due_from, due_high)
        and (not board.title_contains or board.title_contains in task.get("title", ""))
    )
