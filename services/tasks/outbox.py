"""What leaves the service after a transition: a nameko event for every journal event
(``task_transitioned``, ``task_escalated``), and for tasks that came from a partner system,
the webhook the gateway delivers. Both are queued by the journal in the same step as the
transition, so a crash loses neither; both are at least once, in journal order per task."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.common.codec import to_wire
from services.common.document import Document
from services.tasks import journal
from services.tasks.store import TaskStore


def message(event: Document, task: Document | None) -> dict[str, Any]:
    payload: dict[str, Any] = to_wire(
        {
            "event_id": event["_id"],
            "task_id": event["task"],
            "rev": event["rev"],
            "transition": event["transition"],
            "from": event["from"],
            "to": event["to"],
            "at": event["at"],
            "reason": event.get("reason"),
            "detail": event.get("detail") or {},
            "external_id": event.get("external_id"),
            "source": (task or {}).get("source"),
            "receiver": (task or {}).get("receiver"),
            # An escalation says the card it raised (one sweep may raise warning, yellow and
            # red in turn); other steps say the card the task holds.
            "card": (event.get("detail") or {}).get("card") or (task or {}).get("card"),
            "request_id": event.get("request_id"),
        }
    )
    return payload


def relay(store: TaskStore, dispatch: Callable[[str, Any], None], limit: int = 500) -> int:
    """Publish queued events (oldest first), then forget them."""
    sent = 0
    for queued in store.queued_events(limit):
        event = store.load_event(queued["_id"])
        if event is not None:
            task = store.load_task(event["task"])
            name = "task_escalated" if event["transition"] == "escalate" else "task_transitioned"
            dispatch(name, message(event, task))
        store.forget_event(queued["_id"])
        sent += 1
    return sent


def pending_webhooks(store: TaskStore, limit: int = 200) -> list[dict[str, Any]]:
    """For each task with undelivered webhooks, the oldest one only (in order per task)."""
    first: dict[tuple[str, str], Document] = {}
    for queued in store.queued_webhooks(5000):
        key = (queued["partner"], queued["task"])
        current = first.get(key)
        if current is None or queued["rev"] < current["rev"]:
            first[key] = queued
    result = []
    for queued in sorted(first.values(), key=lambda q: str(q["_id"]))[:limit]:
        event = store.load_event(queued["event"])
        task = journal.load(store, queued["task"])
        if event is None:
            store.forget_webhook(queued["_id"])
            continue
        result.append(
            {"id": queued["_id"], "partner": queued["partner"], "payload": message(event, task)}
        )
    return result


def webhook_delivered(store: TaskStore, event_ids: list[str]) -> int:
    done = 0
    for event_id in event_ids:
        if isinstance(event_id, str):
            done += store.forget_webhook(event_id)
    return done
