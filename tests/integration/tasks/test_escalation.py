"""The escalation ladder on a test clock, against the real database: a calendar with a
holiday and a 调休 working Saturday; warning, yellow and red each fire once, at exactly the
expected time, and the notices wait for working hours."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from services.common.actor import Actor
from services.tasks import access, calendar, escalation, journal, lifecycle, outbox, queries
from services.tasks.calendar import CST
from services.tasks.store import TaskStore
from tests.bus import as_actor
from tests.integration.tasks.conftest import DISPATCHER, STREET
from tests.unit.tasks.working import work as work_of

SECOND = timedelta(seconds=1)


def cst(*args: int) -> datetime:
    return datetime(*args, tzinfo=CST)


def national_day(store: TaskStore) -> calendar.WorkCalendar:
    year = calendar.validate_year(
        2026, [f"2026-10-0{d}" for d in range(1, 8)], ["2026-10-10"], None
    )
    calendar.put_year(store, year, "test")
    return calendar.load(store)


def notices(store: TaskStore, actor: Actor, at: datetime) -> list[dict[str, Any]]:
    """The notices ``actor``'s unit is shown at ``at``."""
    return queries.notices_for(work_of(store, as_actor(access.TABLE, "my_notices", actor), at))


def create(store: TaskStore, now: datetime, work: calendar.WorkCalendar) -> dict[str, Any]:
    task = lifecycle.create_task(
        work_of(store, as_actor(access.TABLE, "create_task", DISPATCHER), now, work),
        {
            "title": "占道经营",
            "category": "city_management",
            "units": ["C/HP/NH"],
            "limit": {"working_days": 3},
        },
    )
    assert task["created"]
    return task


def test_cards_fire_once_at_the_expected_times_and_notices_wait_for_working_hours(
    tasks_store: TaskStore,
) -> None:
    work = national_day(tasks_store)
    dispatched = cst(2026, 9, 30, 10, 0)
    task = create(tasks_store, dispatched, work)
    warning, yellow, red = (
        cst(2026, 10, 10, 9, 15),
        cst(2026, 10, 10, 17, 30),
        cst(2026, 10, 13, 17, 30),
    )
    assert task["due_at"] == "2026-10-10T09:30:00.000Z"  # 17:30 CST on the working Saturday

    fired: list[tuple[str, str]] = []
    for moment in (
        warning - SECOND,
        warning,
        warning + SECOND,
        yellow - SECOND,
        yellow,
        yellow + timedelta(hours=40),
        red - SECOND,
        red,
        red + timedelta(days=3),
    ):
        report = escalation.sweep(tasks_store, moment, work)
        fired += [(card, moment.isoformat()) for _task, card in report.escalated]
    assert fired == [
        ("warning", warning.isoformat()),
        ("yellow", yellow.isoformat()),
        ("red", red.isoformat()),
    ]

    stored = tasks_store.load_task(task["id"])
    assert stored is not None
    assert stored["card"] == "red"
    assert [c["at"] for c in stored["cards"]] == [
        warning.astimezone(stored["cards"][0]["at"].tzinfo),
        yellow,
        red,
    ]
    history = [e["transition"] for e in queries.history(tasks_store, stored)]
    assert history == ["create", "dispatch", "escalate", "escalate", "escalate"]

    # The street and its district's supervisors hear of each card, but only in working hours:
    # the yellow card fell at 17:30 on Saturday, its notice arrives on Monday at 09:00.
    district = Actor(account_id="acc_hp", roles=("supervisor",), org_path="C/HP")
    at_saturday_evening = [n["kind"] for n in notices(tasks_store, STREET, yellow)]
    assert "yellow" not in at_saturday_evening
    assert "warning" in at_saturday_evening
    monday = cst(2026, 10, 12, 9, 0)
    assert "yellow" in [n["kind"] for n in notices(tasks_store, STREET, monday)]
    assert "yellow" in [n["kind"] for n in notices(tasks_store, district, monday)]
    red_notice = [
        n for n in notices(tasks_store, STREET, red + timedelta(days=3)) if n["kind"] == "red"
    ]
    assert [n["deliver_at"] for n in red_notice] == ["2026-10-14T01:00:00.000Z"]  # Wed 09:00


def test_a_new_deadline_after_rollback_restarts_the_ladder(tasks_store: TaskStore) -> None:
    work = national_day(tasks_store)
    dispatched = cst(2026, 9, 30, 10, 0)
    task = create(tasks_store, dispatched, work)
    warning = cst(2026, 10, 10, 9, 15)
    assert [c for _t, c in escalation.sweep(tasks_store, warning, work).escalated] == ["warning"]
    lifecycle.rollback_task(
        work_of(
            tasks_store, as_actor(access.TABLE, "rollback_task", STREET), warning + SECOND, work
        ),
        task["id"],
        "wrong_jurisdiction",
        "不属本街道",
        limit=3,
    )
    # Returned: the old deadline's cards no longer fire.
    assert escalation.sweep(tasks_store, cst(2026, 10, 20, 9, 0), work).count == 0
    again = cst(2026, 10, 20, 9, 0)
    lifecycle.dispatch_task(
        work_of(tasks_store, as_actor(access.TABLE, "dispatch_task", DISPATCHER), again, work),
        task["id"],
        ["C/HP/NH"],
        {"working_days": 1},
    )
    fresh = tasks_store.load_task(task["id"])
    assert fresh is not None
    assert fresh["card"] == "none"
    assert fresh["deadline"] == 2
    due = cst(2026, 10, 21, 17, 30)
    cards = [c for _t, c in escalation.sweep(tasks_store, due, work).escalated]
    assert cards == ["warning", "yellow"]


def test_two_sweepers_at_once_escalate_once(tasks_store: TaskStore) -> None:
    import eventlet

    work = national_day(tasks_store)
    dispatched = cst(2026, 9, 30, 10, 0)
    ids = [create(tasks_store, dispatched, work)["id"] for _ in range(20)]
    moment = cst(2026, 10, 10, 9, 15)
    pool = eventlet.GreenPool()
    reports = list(pool.imap(lambda _i: escalation.sweep(tasks_store, moment, work, 5), range(4)))
    assert sum(r.count for r in reports) == 20
    for task_id in ids:
        stored = tasks_store.load_task(task_id)
        assert stored is not None
        assert [c["card"] for c in stored["cards"]] == ["warning"]


def test_no_card_is_skipped_when_a_late_sweep_meets_red_first(
    tasks_store: TaskStore,
) -> None:
    """A sweep that runs only after warning, yellow and red all fell due (the service was
    down) and happens to meet red's entry first still raises warning, then yellow, then red."""
    work = national_day(tasks_store)
    task = create(tasks_store, cst(2026, 9, 30, 10, 0), work)

    def red_first(one: Any, items: Any) -> list[bool]:
        listed = list(items)
        return list(reversed([one(item) for item in reversed(listed)]))

    report = escalation.sweep(tasks_store, cst(2026, 10, 20, 10, 0), work, mapper=red_first)
    assert [card for _task, card in report.escalated] == ["red"]  # the others came stale
    stored = tasks_store.load_task(task["id"])
    assert stored is not None
    assert [c["card"] for c in stored["cards"]] == ["warning", "yellow", "red"]
    history = [e["transition"] for e in queries.history(tasks_store, stored)]
    assert history == ["create", "dispatch", "escalate", "escalate", "escalate"]
    # Each task_escalated event (and partner webhook) says the card it raised.
    raised = [e for e in journal.history(tasks_store, stored) if e["transition"] == "escalate"]
    said = [outbox.message(e, stored)["card"] for e in raised]
    assert said == ["warning", "yellow", "red"]
