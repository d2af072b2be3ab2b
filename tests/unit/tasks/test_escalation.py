"""The escalation sweep through the store's interface (in memory): each card raised once, to
the second, on a calendar with a weekend; a new deadline after a return starts the ladder
again; a sweep that comes late raises every card in order whichever entry it meets first."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from services.tasks import calendar, escalation, journal, lifecycle
from services.tasks.calendar import CST
from tests.unit.tasks.memory_store import MemoryTaskStore
from tests.unit.tasks.working import HOTLINE, STREET, as_, seeded, work

THURSDAY = datetime(2026, 11, 5, 10, 0, tzinfo=CST)
SECOND = timedelta(seconds=1)
ZERO = timedelta(0)


def november(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=CST)


@pytest.fixture
def store() -> MemoryTaskStore:
    return seeded()


def create(store: MemoryTaskStore, at: datetime, days: int = 2) -> dict[str, Any]:
    task = lifecycle.create_task(
        work(store, as_(HOTLINE, "create_task"), at, calendar.load(store, at)),
        {
            "title": "占道经营",
            "category": "city_management",
            "units": ["C/HP/NH"],
            "limit": {"working_days": days},
        },
    )
    assert task["created"]
    return task


def sweep_at(store: MemoryTaskStore, moment: datetime) -> list[str]:
    return [card for _task, card in escalation.sweep(store, moment, calendar.load(store)).escalated]


def test_each_card_falls_once_to_the_second_and_the_weekend_does_not_count(
    store: MemoryTaskStore,
) -> None:
    task = create(store, THURSDAY)  # two working days: due Monday 17:30, past the weekend
    assert task["due_at"] == "2026-11-09T09:30:00.000Z"
    # Warning after three quarters of the 20 working hours (Thursday 6, Friday 7, Monday 2
    # of them), yellow at the deadline, red two working days after it.
    cards = [november(9, 11, 0), november(9, 17, 30), november(11, 17, 30)]
    saturday = november(7, 12, 0)
    moments = [at + delta for at in (saturday, *cards) for delta in (-SECOND, ZERO, SECOND)]
    fired = [(card, moment) for moment in moments for card in sweep_at(store, moment)]
    assert fired == list(zip(("warning", "yellow", "red"), cards, strict=True))
    stored = journal.require(store, task["id"])
    assert [c["card"] for c in stored["cards"]] == ["warning", "yellow", "red"]


def test_a_return_drops_the_old_deadline_and_a_new_dispatch_starts_the_ladder_again(
    store: MemoryTaskStore,
) -> None:
    task = create(store, THURSDAY)
    first_warning = november(9, 11, 0)
    assert sweep_at(store, first_warning) == ["warning"]
    lifecycle.rollback_task(
        work(store, as_(STREET, "rollback_task"), first_warning + SECOND, calendar.load(store)),
        task["id"],
        "wrong_jurisdiction",
        "不属本街道",
        limit=3,
    )
    later = first_warning + timedelta(days=14)
    assert sweep_at(store, later) == []  # returned: the old deadline's cards are stale
    lifecycle.dispatch_task(
        work(store, as_(HOTLINE, "dispatch_task"), later, calendar.load(store)),
        task["id"],
        ["C/HP/NH"],
        {"working_days": 1},
    )
    fresh = journal.require(store, task["id"])
    assert (fresh["card"], fresh["deadline"]) == ("none", 2)
    assert sweep_at(store, later + timedelta(days=30)) == ["warning", "yellow", "red"]


def test_a_late_sweep_meeting_red_first_still_raises_every_card_in_order(
    store: MemoryTaskStore,
) -> None:
    task = create(store, THURSDAY)

    def red_first(one: Any, items: Any) -> list[bool]:
        listed = list(items)
        return list(reversed([one(item) for item in reversed(listed)]))

    long_after = THURSDAY + timedelta(days=30)
    report = escalation.sweep(store, long_after, calendar.load(store), mapper=red_first)
    assert [card for _task, card in report.escalated] == ["red"]  # the others came stale
    stored = journal.require(store, task["id"])
    assert [c["card"] for c in stored["cards"]] == ["warning", "yellow", "red"]
    assert [e["transition"] for e in journal.history(store, stored)].count("escalate") == 3
