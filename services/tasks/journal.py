"""Every change to a task is an event in its journal, and the journal is the lock.

A transition inserts the event ``{task}:{rev+1}`` (a unique ``_id``): of two people acting on
the same revision exactly one insert succeeds; the other gets :class:`Conflict` with the
task's current state. The event carries everything the transition writes: the task's new
fields, the escalations to schedule, the notices to leave, the message to publish. Applying
it is idempotent, so a writer that stops half-way is rolled forward by the next reader
(:func:`load`): nothing is lost, nothing happens twice, no state goes backwards.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.common.actor import Actor
from services.common.codec import to_wire
from services.common.document import Document
from services.common.errors import Conflict, NotFound
from services.common.logs import request_id_var
from services.tasks import schedule
from services.tasks.store import TaskStore


def event_id(task_id: str, rev: int) -> str:
    return f"{task_id}:{rev:06d}"


def actor_view(actor: Actor) -> dict[str, Any]:
    return {
        "account": actor.account_id,
        "name": actor.name,
        "unit": actor.org_path,
        "client": actor.client_id,
    }


def partners_of(task: Document, changes: Document) -> list[str]:
    """The partner systems following a task: the one that created it, and the one it was
    dispatched to (receiver ``partner:{client}``), before or after this change."""
    found = {task.get("partner")}
    for receiver in (task.get("receiver"), changes.get("receiver")):
        if isinstance(receiver, str) and receiver.startswith("partner:"):
            found.add(receiver.split(":", 1)[1])
    return sorted(p for p in found if p)


def load(store: TaskStore, task_id: str) -> Document | None:
    """The task as of its latest event (rolling forward one its writer did not finish)."""
    task = store.load_task(task_id)
    while task is not None:
        pending = store.load_event(event_id(task_id, int(task["rev"]) + 1))
        if pending is None:
            break
        apply(store, pending)
        task = store.load_task(task_id)
    return task


def begin(store: TaskStore, task: Document) -> bool:
    """Insert a new task at revision 0; False if its ``_id`` is taken. It is queued for the
    statistics first, so a create that stops before its first event is still counted as
    what it is (the queue entry of revision 0)."""
    store.queue_stats(event_id(task["_id"], 0), task["_id"], 0)
    return store.insert_task(task)


def require(store: TaskStore, task_id: str) -> Document:
    task = load(store, task_id) if isinstance(task_id, str) else None
    if task is None:
        raise NotFound("no such task")
    return task


def record(
    store: TaskStore,
    task: Document,
    now: datetime,
    actor: Actor | None,
    transition: str,
    to: str | None = None,
    changes: Document | None = None,
    reason: str | None = None,
    effects: Document | None = None,
    **detail: Any,
) -> Document:
    """Append one event to the task's journal and apply it; returns the task as it is now."""
    rev = int(task["rev"]) + 1
    event: Document = {
        "_id": event_id(task["_id"], rev),
        "task": task["_id"],
        "rev": rev,
        "at": now,
        "actor": actor_view(actor) if actor else {"account": "system", "name": "system"},
        "transition": transition,
        "from": task["status"],
        "to": to or task["status"],
        "reason": reason,
        "detail": detail,
        "changes": changes or {},
        "effects": effects or {},
        "partners": partners_of(task, changes or {}),
        "external_id": task.get("external_id"),
        # The request that caused it, so the event relayed later still carries it.
        "request_id": request_id_var.get(),
    }
    if not store.append_event(event):
        current = load(store, task["_id"]) or task
        raise Conflict(
            "someone else changed this task at the same time; reload and retry",
            state=current["status"],
            rev=current["rev"],
        )
    apply(store, event, known_rev=rev - 1)
    return {**task, **event["changes"], "status": event["to"], "rev": rev, "updated_at": now}


def apply(store: TaskStore, event: Document, known_rev: int | None = None) -> None:
    """Idempotent: schedule, notify, queue the message, then move the task to this event."""
    effects = event.get("effects") or {}
    for rung in effects.get("schedule", []):
        schedule.put(store, event["task"], rung["deadline"], rung["card"], rung["at"], event["at"])
    for notice in effects.get("notices", []):
        store.leave_notice(
            {
                **notice,
                "_id": f"{event['_id']}:{notice['unit']}",
                "task": event["task"],
                "event": event["_id"],
            },
        )
    store.queue_event(event["_id"], event["at"])
    store.queue_stats(event["_id"], event["task"], int(event["rev"]))  # for the statistics
    for partner in event.get("partners", []):
        store.queue_webhook(
            {
                "_id": f"{event['_id']}:{partner}",
                "event": event["_id"],
                "partner": partner,
                "task": event["task"],
                "rev": event["rev"],
            },
        )
    # Read, then write by _id alone (the one filter FerretDB serves from an index; its
    # conditional updates are not atomic anyway). Should a late writer ever put an older
    # revision back, the next load() replays the newer events on top: they hold whole values.
    if known_rev is None:  # rolling forward: someone may have got there first
        current = store.task_rev(event["task"])
        if current is not None and current >= int(event["rev"]):
            return
    store.write_task(
        event["task"],
        {
            **event["changes"],
            "status": event["to"],
            "rev": event["rev"],
            "updated_at": event["at"],
        },
    )


def history_view(event: Document) -> dict[str, Any]:
    return to_wire(
        {
            "rev": event["rev"],
            "at": event["at"],
            "actor": event["actor"],
            "transition": event["transition"],
            "from": event["from"],
            "to": event["to"],
            "reason": event.get("reason"),
            **(event.get("detail") or {}),
        }
    )


def history(store: TaskStore, task: Document) -> list[Document]:
    """The task's events, oldest first, each read by its _id."""
    events = []
    for rev in range(1, int(task["rev"]) + 1):
        event = store.load_event(event_id(task["_id"], rev))
        if event is not None:
            events.append(event)
    return events
