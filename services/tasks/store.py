"""tasks's collections and the indexes they need.

Hot paths read by ``_id`` only (tasks, journal events, claims, schedule entries: see
:mod:`services.tasks.schedule` for why). The indexes below serve the list and statistics
queries on MongoDB; FerretDB keeps them too but scans for those filters."""

from services.common.mongo import Index

INDEXES = (
    Index("tasks", [("reach", 1), ("created_at", -1)]),
    Index("tasks", [("held_within", 1), ("dispatched_at", 1)]),
    Index("tasks", [("reach", 1), ("card", 1), ("status", 1)]),
    Index("notices", [("unit", 1), ("deliver_at", -1)]),
)
