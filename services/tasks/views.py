"""How a task looks on the wire."""

from __future__ import annotations

from typing import Any

from services.common.codec import to_wire
from services.common.document import Document

FIELDS = (
    "title",
    "description",
    "level",
    "category",
    "matter",
    "handling_type",
    "source",
    "external_id",
    "partner",
    "jurisdiction",
    "dispatcher",
    "receiver",
    "holders",
    "parent",
    "children",
    "limit",
    "status",
    "rev",
    "deadline",
    "started_at",
    "due_at",
    "part_due_at",
    "card",
    "card_at",
    "cards",
    "next_escalation_at",
    "urges",
    "attachments",
    "feedback",
    "transferred_by",
    "created_at",
    "dispatched_at",
    "accepted_at",
    "completed_at",
    "on_time",
    "working_minutes",
    "closed_at",
)


def task_view(task: Document) -> dict[str, Any]:
    view: dict[str, Any] = to_wire({"id": task["_id"], **{k: task.get(k) for k in FIELDS}})
    view["rollbacks"] = len(task.get("rolled_back_by") or [])
    return view
