"""The life of a task, through the store's interface (in memory): each step one journal
event that leaves through the outbox, a lost race told apart, a writer that stopped half-way
rolled forward, a refused create that leaves nothing behind, escalation cards in order."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from services.common.errors import Conflict, InvalidInput
from services.tasks import calendar, escalation, journal, lifecycle, outbox
from services.tasks.calendar import CST
from services.tasks.store import Board, TaskStore
from tests.unit.tasks.memory_store import MemoryTaskStore
from tests.unit.tasks.working import HOTLINE, STREET, as_, seeded, work

MONDAY = datetime(2026, 11, 2, 10, 0, tzinfo=CST)


@pytest.fixture
def store() -> MemoryTaskStore:
    return seeded()


def create(store: TaskStore, **extra: Any) -> dict[str, Any]:
    fields = {
        "title": "占道经营",
        "category": "city_management",
        "units": ["C/HP/NH"],
        "limit": {"working_days": 3},
        **extra,
    }
    at_monday = calendar.load(store, MONDAY)
    task = lifecycle.create_task(
        work(store, as_(HOTLINE, "create_task"), MONDAY, at_monday), fields
    )
    assert task["created"]
    return task


def test_a_task_goes_from_dispatch_to_approval_one_published_event_per_step(
    store: MemoryTaskStore,
) -> None:
    task = create(store)
    assert task["status"] == "dispatched"
    at = MONDAY + timedelta(hours=1)
    lifecycle.accept_task(work(store, as_(STREET, "accept_task"), at), task["id"])
    lifecycle.start_task(work(store, as_(STREET, "start_task"), at), task["id"])
    lifecycle.submit_feedback(
        work(store, as_(STREET, "submit_feedback"), at), task["id"], "已清理占道摊点", []
    )
    done = lifecycle.review_feedback(
        work(store, as_(HOTLINE, "review_feedback"), at, calendar.load(store, at)),
        task["id"],
        "approve",
        None,
    )
    assert done["status"] == "archived"  # approved, and filed as 已办结
    stored = store.load_task(task["id"])
    assert stored is not None
    steps = [e["transition"] for e in journal.history(store, stored)]
    assert steps == ["create", "dispatch", "accept", "start", "feedback", "approve", "archive"]

    published: list[tuple[str, Any]] = []
    assert outbox.relay(store, lambda name, body: published.append((name, body))) == 7
    assert [body["transition"] for _name, body in published] == steps
    assert outbox.relay(store, lambda name, body: published.append((name, body))) == 0


def test_of_two_acting_on_one_revision_one_wins_and_the_other_is_told_the_state(
    store: MemoryTaskStore,
) -> None:
    task = create(store)
    seen = journal.require(store, task["id"])
    journal.record(store, seen, MONDAY, STREET, "accept", "accepted")
    with pytest.raises(Conflict) as lost:
        journal.record(store, seen, MONDAY, STREET, "accept", "accepted")
    assert lost.value.extra["state"] == "accepted"
    stored = journal.require(store, task["id"])
    assert [e["transition"] for e in journal.history(store, stored)][-1] == "accept"


def test_a_writer_that_stopped_after_its_event_is_rolled_forward_by_the_next_reader(
    store: MemoryTaskStore,
) -> None:
    task = create(store)
    seen = journal.require(store, task["id"])
    rev = int(seen["rev"]) + 1
    store.append_event(  # the event is in; the writer died before applying it
        {
            "_id": journal.event_id(task["id"], rev),
            "task": task["id"],
            "rev": rev,
            "at": MONDAY,
            "actor": journal.actor_view(STREET),
            "transition": "accept",
            "from": "dispatched",
            "to": "accepted",
            "changes": {"accepted_at": MONDAY},
            "effects": {},
            "partners": [],
        }
    )
    stored = store.load_task(task["id"])
    assert stored is not None
    assert stored["status"] == "dispatched"
    assert journal.require(store, task["id"])["status"] == "accepted"
    assert journal.event_id(task["id"], rev) in {e["_id"] for e in store.queued_events(50)}


def test_a_refused_create_writes_nothing_and_the_corrected_retry_goes_through(
    store: MemoryTaskStore,
) -> None:
    with pytest.raises(InvalidInput) as refused:
        create(store, external_id="12345-0001", limit={"working_days": -1})
    assert refused.value.field is not None
    assert store.board(Board(limit=100)) == []
    written = {name for name, found in store.collections.items() if found}
    assert written == {"sources", "ladder_rules"}  # what the seeds put there, nothing else
    task = create(store, external_id="12345-0001")
    assert task["status"] == "dispatched"


def test_cards_due_together_are_raised_in_order_and_an_answered_task_is_left_alone(
    store: MemoryTaskStore,
) -> None:
    late, answered = create(store), create(store, title="噪音扰民")
    lifecycle.accept_task(work(store, as_(STREET, "accept_task"), MONDAY), answered["id"])
    lifecycle.start_task(work(store, as_(STREET, "start_task"), MONDAY), answered["id"])
    lifecycle.submit_feedback(
        work(store, as_(STREET, "submit_feedback"), MONDAY), answered["id"], "已处理", []
    )
    lifecycle.review_feedback(
        work(store, as_(HOTLINE, "review_feedback"), MONDAY, calendar.load(store, MONDAY)),
        answered["id"],
        "approve",
        None,
    )
    long_after = MONDAY + timedelta(days=30)
    report = escalation.sweep(store, long_after, calendar.load(store, long_after))
    assert report.escalated == [(late["id"], c) for c in ("warning", "yellow", "red")]
    assert report.stale == 3  # the answered task's cards, dropped
    again = escalation.sweep(store, long_after, calendar.load(store, long_after))
    assert (again.escalated, again.stale) == ([], 0)
    stored = journal.require(store, late["id"])
    assert stored["card"] == "red"
