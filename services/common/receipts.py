"""Consumers keyed by event id: an event relayed twice (at least once, see
:mod:`services.common.outbox`) is acted on once.

The receipt is written after the handler has done its work, not before: a handler killed in
the middle leaves no receipt, the broker hands the event again, and the handler (which
writes whole values, never increments) does it again. A receipt written first would lose
that event for good. So a repeat is stopped by the receipt once it exists, and a repeat
that races the first delivery is harmless because the work itself is idempotent.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from typing import Any, TypeVar

from pymongo.errors import DuplicateKeyError

from services.common.codec import utcnow
from services.common.mongo import database_of

RECEIPTS = "receipts"
Handler = TypeVar("Handler", bound=Callable[[Any, dict[str, Any]], None])


def once_per_event(handler: Handler) -> Handler:
    """On a nameko event handler method of a service with a database: an event whose
    ``event_id`` this handler has received before is acknowledged and nothing is done."""

    @functools.wraps(handler)
    def keyed(service: Any, payload: dict[str, Any]) -> None:
        event_id = payload.get("event_id") if isinstance(payload, dict) else None
        if not isinstance(event_id, str):
            handler(service, payload)  # published before events had ids
            return
        key = f"{handler.__name__}:{event_id}"
        receipts = database_of(service)[RECEIPTS]
        if receipts.find_one({"_id": key}, {"_id": 1}) is not None:
            return
        handler(service, payload)
        with contextlib.suppress(DuplicateKeyError):
            receipts.insert_one({"_id": key, "at": utcnow()})

    return keyed  # type: ignore[return-value]
