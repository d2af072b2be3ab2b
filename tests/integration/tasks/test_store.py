"""Every method of tasks's store, on the real database (FerretDB here), and the same checks
on the in-memory store the unit tests use, so the two cannot drift apart."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.tasks import statsfold
from services.tasks.store import SCHEDULE_PREFIX, Board, TaskStore
from tests.unit.tasks.memory_store import MemoryTaskStore

NOW = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)


@pytest.fixture(params=["database", "memory"])
def store(request: pytest.FixtureRequest, tasks_store: TaskStore) -> TaskStore:
    return tasks_store if request.param == "database" else MemoryTaskStore()


@pytest.fixture
def tag() -> str:
    return secrets.token_hex(4)


def aware(value: Any) -> Any:
    """A time as the database hands it back (UTC), or as the memory store was given it."""
    return value.replace(tzinfo=UTC) if isinstance(value, datetime) and not value.tzinfo else value


def test_a_task_and_its_journal_are_read_and_written_by_id(store: TaskStore, tag: str) -> None:
    task = {"_id": f"t_{tag}", "rev": 1, "status": "created", "title": "占道经营"}
    assert store.insert_task(task)
    assert not store.insert_task({**task, "title": "again"})
    assert store.task_rev(task["_id"]) == 1
    assert store.task_rev(f"t_{tag}_none") is None
    store.write_task(task["_id"], {"rev": 2, "status": "dispatched"})
    assert store.load_task(task["_id"]) == {**task, "rev": 2, "status": "dispatched"}
    event = {"_id": f"t_{tag}:000002", "task": task["_id"], "rev": 2}
    assert store.append_event(event)
    assert not store.append_event({**event, "rev": 3})
    assert store.load_event(event["_id"]) == event
    assert store.load_event(f"t_{tag}:000003") is None


def test_notices_are_left_once_and_delivered_by_unit_newest_first(
    store: TaskStore, tag: str
) -> None:
    unit = f"C/{tag}"
    for n, hours in enumerate((1, 3, 2, 30)):
        notice = {"_id": f"n_{tag}_{n}", "unit": unit, "deliver_at": NOW + timedelta(hours=hours)}
        store.leave_notice(notice)
        store.leave_notice({**notice, "unit": "C/elsewhere"})  # the same id: ignored
    store.leave_notice({"_id": f"n_{tag}_x", "unit": f"{unit}/below", "deliver_at": NOW})
    found = store.notices_for(unit, NOW + timedelta(hours=5), 2)
    assert [n["_id"] for n in found] == [f"n_{tag}_1", f"n_{tag}_2"]


def test_queued_events_and_webhooks_are_forgotten_once_sent(store: TaskStore, tag: str) -> None:
    store.queue_event(f"e_{tag}", NOW)
    store.queue_event(f"e_{tag}", NOW + timedelta(hours=1))
    (queued,) = [q for q in store.queued_events(10_000) if q["_id"] == f"e_{tag}"]
    assert aware(queued["at"]) == NOW  # the first one stays
    store.forget_event(f"e_{tag}")
    assert f"e_{tag}" not in {q["_id"] for q in store.queued_events(10_000)}
    hook = {"_id": f"w_{tag}", "event": f"e_{tag}", "partner": "p", "task": "t", "rev": 1}
    store.queue_webhook(hook)
    store.queue_webhook({**hook, "rev": 9})
    assert [q for q in store.queued_webhooks(10_000) if q["_id"] == hook["_id"]] == [hook]
    assert store.forget_webhook(hook["_id"]) == 1
    assert store.forget_webhook(hook["_id"]) == 0


def test_the_schedule_is_kept_per_hour_and_read_by_what_is_due(store: TaskStore, tag: str) -> None:
    bucket = f"{SCHEDULE_PREFIX}2099{int(tag, 16) % 10**6:06d}"
    entries = [
        {"_id": f"{tag}:{n}", "task": tag, "at": NOW + timedelta(minutes=n)} for n in range(3)
    ]
    for entry in [*entries, entries[0]]:
        store.schedule(bucket, entry)
    assert bucket in store.schedule_buckets()
    assert all(name.startswith(SCHEDULE_PREFIX) for name in store.schedule_buckets())
    due = store.due_in(bucket, NOW + timedelta(minutes=1), 10)
    assert sorted(e["_id"] for e in due) == [f"{tag}:0", f"{tag}:1"]
    assert len(store.due_in(bucket, NOW + timedelta(hours=1), 1)) == 1
    store.drop_bucket_if_empty(bucket)
    assert bucket in store.schedule_buckets()  # not empty: kept
    for entry in entries:
        store.unschedule(bucket, entry["_id"])
    assert store.due_in(bucket, NOW + timedelta(hours=1), 10) == []
    store.drop_bucket_if_empty(bucket)
    assert bucket not in store.schedule_buckets()


def test_a_claim_is_taken_once_and_read_back(store: TaskStore, tag: str) -> None:
    assert store.claim(f"test:{tag}", NOW, task_id="t_1")
    assert not store.claim(f"test:{tag}", NOW, task_id="t_2")
    claimed = store.claimed(f"test:{tag}")
    assert claimed is not None
    assert claimed["task_id"] == "t_1"
    assert store.claimed(f"test:{tag}:none") is None


def test_sources_routing_rules_and_ladder_rules(store: TaskStore, tag: str) -> None:
    source = {"_id": f"s_{tag}", "name": "热线", "enabled": True}
    assert store.insert_source(source)
    assert not store.insert_source({**source, "name": "again"})
    store.update_source(source["_id"], {"enabled": False})
    assert store.load_source(source["_id"]) == {**source, "enabled": False}
    listed = [s["_id"] for s in store.sources()]
    assert source["_id"] in listed
    assert listed == sorted(listed)

    rule = {"_id": f"r_{tag}", "match": {"category": "noise"}, "unit": "C/HP"}
    store.insert_routing_rule(rule)
    assert store.load_routing_rule(rule["_id"]) == rule
    assert rule in store.routing_rules()
    store.delete_routing_rule(rule["_id"])
    assert store.load_routing_rule(rule["_id"]) is None

    ladder = {"_id": f"l_{tag}", "match": {}, "steps": []}
    assert store.insert_ladder_rule(ladder)
    assert not store.insert_ladder_rule({**ladder, "steps": [1]})
    store.put_ladder_rule({**ladder, "steps": [{"card": "red"}]})
    assert store.load_ladder_rule(ladder["_id"]) == {**ladder, "steps": [{"card": "red"}]}
    ids = [r["_id"] for r in store.ladder_rules()]
    assert ladder["_id"] in ids
    assert ids == sorted(ids)
    store.delete_ladder_rule(ladder["_id"])
    assert store.load_ladder_rule(ladder["_id"]) is None


def test_calendar_years_attachments_and_the_sweep_record(store: TaskStore, tag: str) -> None:
    year = 3000 + int(tag, 16) % 5000
    assert store.insert_calendar_year({"_id": year, "holidays": []})
    assert not store.insert_calendar_year({"_id": year, "holidays": ["x"]})
    store.put_calendar_year({"_id": year, "holidays": ["3001-01-01"], "by": "test"})
    assert store.load_calendar_year(year) == {"_id": year, "holidays": ["3001-01-01"], "by": "test"}
    assert year in [y["_id"] for y in store.calendar_years()]

    file = {"_id": f"a_{tag}", "task": "t", "name": "现场.jpg", "data": b"\xff\xd8"}
    store.insert_attachments([file, {**file, "name": "again"}])
    assert store.load_attachment(file["_id"]) == file
    assert store.load_attachment(f"a_{tag}_none") is None

    store.record_sweep({"at": NOW, "escalated": 3, "stale": 1, "lag_s": 0.5})
    last = store.last_sweep()
    assert (aware(last["at"]), last["escalated"], last["stale"]) == (NOW, 3, 1)


def board_tasks(tag: str) -> list[dict[str, Any]]:
    unit = f"C/{tag}"
    base = {"reach": ["C", unit], "held_within": ["C", unit], "category": "noise"}
    return [
        {
            **base,
            "_id": f"b_{tag}_{n}",
            "title": title,
            "status": status,
            "card": card,
            "created_at": NOW + timedelta(hours=n),
            "due_at": NOW + timedelta(days=n),
            "dispatched_at": NOW + timedelta(hours=n),
            "holders": [unit],
            **({"partner": f"p_{tag}"} if n == 3 else {}),
        }
        for n, (title, status, card) in enumerate(
            [
                ("夜间施工噪音", "dispatched", "none"),
                ("占道经营", "in_progress", "yellow"),
                ("噪音扰民", "archived", "red"),
                ("井盖缺失", "dispatched", "none"),
            ]
        )
    ]


def test_the_board_filters_sorts_and_pages(store: TaskStore, tag: str) -> None:
    for task in board_tasks(tag):
        store.insert_task(task)
    unit = f"C/{tag}"

    def ids(**asked: Any) -> list[str]:
        return [t["_id"].rsplit("_", 1)[1] for t in store.board(Board(reach=unit, **asked))]

    assert ids() == ["3", "2", "1", "0"]
    assert ids(descending=False, offset=1, limit=2) == ["1", "2"]
    assert ids(statuses=("dispatched",)) == ["3", "0"]
    assert ids(statuses=("dispatched", "in_progress"), card="none") == ["3", "0"]
    assert ids(title_contains="噪音") == ["2", "0"]
    assert ids(due_before=NOW + timedelta(days=2)) == ["1", "0"]
    assert ids(due_from=NOW + timedelta(days=1), due_to=NOW + timedelta(days=3)) == ["2", "1"]
    assert ids(created_from=NOW + timedelta(hours=2)) == ["3", "2"]
    assert ids(sort="due_at", descending=False, limit=1) == ["0"]
    partner = store.board(Board(partner=f"p_{tag}"))
    assert [t["_id"] for t in partner] == [f"b_{tag}_3"]


@pytest.fixture(params=["database", "memory"])
def apart(request: pytest.FixtureRequest, tasks_store: TaskStore) -> Iterator[TaskStore]:
    """A store of its own (the statistics' queue and folds are one per database: the
    service's own timer must not fold what this test queues)."""
    if request.param == "memory":
        yield MemoryTaskStore()
        return
    client = tasks_store.database.client
    name = f"tasks_stats_{secrets.token_hex(6)}"
    yield TaskStore(client[name])
    client.drop_database(name)


def test_the_statistics_queue_takes_each_change_once(apart: TaskStore) -> None:
    apart.queue_stats("t_1:000001", "t_1", 1)
    apart.queue_stats("t_1:000001", "t_1", 1)  # the same change again: one entry
    entries = [{"_id": f"t_{n}:000000", "task": f"t_{n}", "rev": 0} for n in range(3)]
    assert apart.queue_stats_many(entries) == 3
    assert apart.queue_stats_many(entries) == 0
    assert len(apart.queued_stats(10)) == 4
    assert len(apart.queued_stats(2)) == 2
    apart.forget_queued_stats(["t_1:000001", "t_0:000000"])
    assert sorted(q["_id"] for q in apart.queued_stats(10)) == ["t_1:000000", "t_2:000000"]
    for n in range(3):
        apart.insert_task({"_id": f"t_{n}", "rev": 1, "status": "created"})
    every = sorted(apart.every_task(["status"]), key=lambda t: str(t["_id"]))
    assert every == [{"_id": f"t_{n}", "status": "created"} for n in range(3)]
    assert [t["_id"] for t in apart.load_tasks(["t_2", "t_9"])] == ["t_2"]
    assert apart.load_tasks([]) == []


def test_cells_are_written_in_one_request_and_say_which_fold_wrote_them(
    apart: TaskStore,
) -> None:
    apart.write_cells({"C|all": ({"all.n": 2, "all.due.1700000000000": 1}, [])}, 1)
    apart.write_cells(
        {"C|all": ({"all.n": 3}, ["all.due.1700000000000"]), "C/HP|all": ({"own.n": 1}, [])}, 2
    )
    found = apart.load_cells(["C|all", "C/HP|all", "C/SH|all"], mapper=map)
    assert found["C|all"]["all"]["n"] == 3
    assert not found["C|all"]["all"].get("due")
    assert found["C|all"]["v"] == 2
    assert found["C/HP|all"] == {"own": {"n": 1}, "v": 2}
    assert "C/SH|all" not in found
    assert apart.load_cells([]) == {}


def test_what_a_fold_kept_of_a_task_and_the_folds_themselves(apart: TaskStore) -> None:
    at = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
    facts = {"_id": "t_1", "holders": ["C/HP"], "dispatched_at": at, "cards": [{"card": "red"}]}
    apart.put_folded({"t_1": facts, "t_2": {"_id": "t_2"}}, 1)
    apart.put_folded({"t_2": None}, 2)  # gone
    assert apart.folded(["t_1", "t_2", "t_3"]) == {
        "t_1": {"_id": "t_1", "facts": {**facts, "dispatched_at": at}, "v": 1},
        "t_2": {"_id": "t_2", "facts": None, "v": 2},
    }
    assert sorted(f["_id"] for f in apart.every_folded()) == ["t_1", "t_2"]
    assert apart.fold_head() is None
    intent = {"number": 1, "at": at, "writes": [{"c": "C|all", "p": "all.n", "v": 1}]}
    assert apart.insert_fold(intent)
    assert not apart.insert_fold({**intent, "writes": []})
    apart.put_fold_head({"number": 1, "at": at, "done": False})
    assert apart.fold_head() == {"_id": "head", "number": 1, "at": at, "done": False}
    apart.put_fold_head({"number": 1, "at": at, "done": True})
    assert apart.fold_head() == {"_id": "head", "number": 1, "at": at, "done": True}
    whole = apart.load_fold(1)
    assert whole is not None
    assert whole["writes"] == intent["writes"]
    apart.bury_fold(1, at)  # finished: only that the number is taken
    assert apart.load_fold(1) == {"_id": "fold:000000000001", "number": 1, "at": at, "buried": True}
    assert not apart.insert_fold(intent)
    apart.forget_fold(1)
    assert apart.load_fold(1) is None


def test_tasks_read_back_match_what_their_fold_kept_so_the_reconciliation_is_quiet(
    apart: TaskStore,
) -> None:
    """Times, lists and absent fields come back from the database as the fold kept them
    from it: once folded, nothing is queued again."""
    for task in board_tasks("r"):
        apart.insert_task(
            {**task, "rev": 1, "created_at": task["created_at"] + timedelta(microseconds=1234)}
        )
    assert statsfold.reconcile(apart) == 4
    statsfold.fold_all(apart)
    assert apart.queued_stats(10) == []
    assert statsfold.reconcile(apart) == 0
