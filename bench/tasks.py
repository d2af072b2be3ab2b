"""Supervision hub figures, one JSON object on stdout.

* ``dispatch_per_s``: tasks created and dispatched per second through the gateway of the
  suite ``make up`` started (GATEWAY_URL), 16 concurrent clients, as a street's staff.
* ``sweep_s_10k_open`` / ``sweep_s_1m_open``: the escalation sweep's time for 10,000 tasks
  due now, when 10,000 and when 1,000,000 tasks are open (the others due later), on the real
  database (its own ``bench_tasks_*`` databases, dropped afterwards); ``sweep_ratio`` is the
  second over the first (goal ≤ 1.5: the sweep reads what is due, not what is open).
* ``stats_query_ms``: statistics of a unit that received 100,000 tasks, from the read model
  (``stats_query_ms_last_year_by_date``: from a date a year ago, months and days of cells;
  ``stats_query_ms_100_queued``: with 100 changes not folded yet, which the question adds
  itself; ``stats_query_ms_from_inside_a_day``: from 13:30 three days ago, that day's
  tasks after it read by ``_id``); ``stats_fold_per_s``: tasks folded into the read model
  per second; ``board_first_page_ms``: the board's first page of 50, from its cell.

``BENCH_PARTS`` (default ``dispatch,sweep,stats``) runs some of them only.

    make up && .venv/bin/python bench/tasks.py
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import httpx

from bench import ground, processes
from services.common.access import acting_as
from services.common.actor import Actor
from services.common.codec import utcnow
from services.common.document import Document
from services.common.mongo import client_for
from services.tasks import access, escalation, ladder, queries, schedule, stats, statsfold
from services.tasks.calendar import CST, WorkCalendar
from services.tasks.store import TaskStore
from services.tasks.work import Work

GATEWAY = os.environ.get("GATEWAY_URL", "http://127.0.0.1:8000")
MONGO_URL = os.environ.get("MONGO_URL", "mongodb://127.0.0.1:27017/")
DEMO_PASSWORD = "Demo-pass-2026"  # noqa: S105 - the demo city's accounts on a local suite
UNIT = "CN-LN-SY/HP/NH/XH"
DUE = 10_000
BATCH = 10_000


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


CLIENTS, DISPATCH_SECONDS = 16, 10.0


async def dispatch_per_s(seconds: float = DISPATCH_SECONDS, concurrency: int = CLIENTS) -> float:
    async with httpx.AsyncClient(base_url=GATEWAY, timeout=30) as client:
        token = await client.post(
            "/v1/auth/token",
            data={"grant_type": "password", "username": "staff.nh", "password": DEMO_PASSWORD},
        )
        token.raise_for_status()
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        done = 0
        deadline = time.monotonic() + seconds

        async def worker() -> None:
            nonlocal done
            while time.monotonic() < deadline:
                response = await client.post(
                    "/v1/tasks",
                    headers=headers,
                    json={"title": "压测任务", "category": "bench", "units": [UNIT]},
                )
                if response.status_code != 201:
                    raise SystemExit(f"dispatch failed: {response.status_code} {response.text}")
                done += 1

        started = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return done / (time.monotonic() - started)


def task_document(task_id: str, now: datetime, due: datetime, rungs: list[Any]) -> Document:
    return {
        "_id": task_id,
        "title": "压测任务",
        "level": "normal",
        "category": "bench",
        "source": "manual",
        "handling_type": "standard",
        "dispatcher": "CN-LN-SY/HP/NH",
        "receiver": UNIT,
        "holders": [UNIT],
        "held_within": ["CN-LN-SY", "CN-LN-SY/HP", "CN-LN-SY/HP/NH", UNIT],
        "reach": ["CN-LN-SY", "CN-LN-SY/HP", "CN-LN-SY/HP/NH", UNIT],
        "status": "in_progress",
        "rev": 0,
        "deadline": 1,
        "card": "none",
        "cards": [],
        "rolled_back_by": [],
        "urges": 0,
        "started_at": now,
        "due_at": due,
        "dispatched_at": now,
        "ladder": [{"card": r.card, "at": r.at} for r in rungs],
        "next_escalation_at": rungs[0].at,
        "created_at": now,
    }


def seed_open_tasks(db: Any, open_count: int, now: datetime, calendar: WorkCalendar) -> None:
    """``open_count`` tasks in progress: the first DUE have their warning due now, the rest
    fall due over the next 30 days (one schedule entry each, as a dispatch leaves them)."""
    started = time.monotonic()
    for offset in range(0, open_count, BATCH):
        tasks, entries = [], {}
        for i in range(offset, min(open_count, offset + BATCH)):
            task_id = f"tk_bench{i:08d}"
            later = timedelta(hours=2 + i % (30 * 24))
            at = now - timedelta(minutes=1) if i < DUE else now + later
            due = at + timedelta(days=1)
            rung = ladder.Rung("warning", at)
            tasks.append(task_document(task_id, now - timedelta(days=1), due, [rung]))
            entry = {
                "_id": f"{task_id}:1:warning",
                "task": task_id,
                "deadline": 1,
                "card": "warning",
                "at": at,
            }
            entries.setdefault(schedule.bucket(max(at, now)), []).append(entry)
        db.tasks.insert_many(tasks, ordered=False)
        for bucket, items in entries.items():
            db[bucket].insert_many(items, ordered=False)
        if offset and offset % 100_000 == 0:
            log(f"  {offset:,} open tasks seeded ({time.monotonic() - started:.0f} s)")


def sweep_seconds(open_count: int) -> float:
    client = client_for(MONGO_URL)
    name = f"bench_tasks_{open_count}_{uuid.uuid4().hex[:8]}"  # never a dropped name again
    db = client[name]
    calendar = WorkCalendar()
    now = utcnow()
    log(f"seeding {open_count:,} open tasks, {DUE:,} due now")
    seed_open_tasks(db, open_count, now, calendar)
    trips, ours, theirs = processes.commands_to(name), time.process_time(), ferretdb_cpu()
    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:  # as the service's green pool of 8
        report = escalation.sweep(TaskStore(db), now, calendar, mapper=pool.map)
    elapsed = time.monotonic() - started
    if report.count != DUE:
        raise SystemExit(f"the sweep escalated {report.count}, expected {DUE}")
    log(f"  swept {report.count:,} in {elapsed:.1f} s")
    SWEEP_COST[open_count] = {
        "db_round_trips_per_escalation": round((processes.commands_to(name) - trips) / DUE, 2),
        "cpu_ms_per_escalation": {
            "sweep (the service's code)": round((time.process_time() - ours) * 1000 / DUE, 2),
            "FerretDB": round((ferretdb_cpu() - theirs) * 1000 / DUE, 2),
        },
    }
    client.drop_database(name)
    client.close()
    return elapsed


SWEEP_COST: dict[int, dict[str, Any]] = {}  # per open tasks: what one escalation cost


def ferretdb_cpu() -> float:
    return processes.cpu_of(processes.BACKING["ferretdb"])


def stats_figures(count: int = 100_000) -> dict[str, float]:
    """Statistics of a unit that received ``count`` tasks, from the read model: the fold of
    every task into it first (as a database new to it is folded at start), then the
    question, and the question again with 100 changes queued and not yet folded."""
    client = client_for(MONGO_URL)
    name = f"bench_tasks_stats_{uuid.uuid4().hex[:8]}"  # never a dropped name again
    db = client[name]
    now = utcnow()
    log(f"seeding {count:,} tasks received by one unit")
    for offset in range(0, count, BATCH):
        docs = []
        for i in range(offset, min(count, offset + BATCH)):
            at = now - timedelta(days=i % 300, minutes=1)
            doc = task_document(f"tk_stats{i:08d}", at, now, [ladder.Rung("warning", now)])
            if i % 3 == 0:
                doc.update(
                    status="archived", completed_at=now, on_time=i % 2 == 0, working_minutes=300.0
                )
            docs.append(doc)
        db.tasks.insert_many(docs, ordered=False)
    store = TaskStore(db)
    started = time.perf_counter()
    statsfold.reconcile(store)
    queued_s = time.perf_counter() - started
    started = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:  # as the service's timer: eight reads at once
        folded = statsfold.fold_all(store, mapper=pool.map)
    fold_s = time.perf_counter() - started
    log(f"  queued in {queued_s:.1f} s, folded {folded:,} in {fold_s:.1f} s")
    actor = Actor(account_id="bench", roles=("supervisor",), org_path="CN-LN-SY/HP")
    reads = ThreadPoolExecutor(8)  # as the service's worker: eight reads by _id at once

    def work_as(operation: str) -> Work:
        guard = acting_as(access.TABLE, operation, actor)
        return Work.of(store, guard, now, unit_exists=lambda _u: True, mapper=reads.map)

    def ask(start: str | None = None) -> float:
        began = time.perf_counter()
        result = stats.unit_stats(work_as("unit_stats"), UNIT, start)
        if start is None and result["received"] != count:
            raise SystemExit(f"stats counted {result['received']}, expected {count}")
        return (time.perf_counter() - began) * 1000

    def first_page() -> float:
        began = time.perf_counter()
        page = queries.list_tasks(work_as("list_tasks"), {"unit": UNIT}, limit=50)
        if len(page["items"]) != 50:
            raise SystemExit(f"the board's first page has {len(page['items'])} tasks")
        return (time.perf_counter() - began) * 1000

    whole = sorted(ask() for _ in range(5))[2]
    year = sorted(ask((now - timedelta(days=365)).date().isoformat()) for _ in range(5))[2]
    # from 13:30 Beijing time three days ago: a part of that day read from its tasks
    inside = (now.astimezone(CST) - timedelta(days=3)).replace(hour=13, minute=30)
    part_day = sorted(ask(inside.isoformat()) for _ in range(5))[2]
    board = sorted(first_page() for _ in range(5))[2]
    for i in range(100):  # changed a moment ago: queued, not folded yet
        store.queue_stats(f"tk_stats{i:08d}:000001", f"tk_stats{i:08d}", 0)
    pending = sorted(ask() for _ in range(5))[2]
    reads.shutdown()
    client.drop_database(name)
    client.close()
    return {
        "stats_query_ms": round(whole, 1),
        "stats_query_ms_last_year_by_date": round(year, 1),
        "stats_query_ms_from_inside_a_day": round(part_day, 1),
        "stats_query_ms_100_queued": round(pending, 1),
        "board_first_page_ms": round(board, 1),
        "stats_fold_per_s": round(folded / fold_s, 1),
    }


def main() -> None:
    # The ground first, on a quiet suite: raw single inserts from as many threads as the
    # dispatching clients, bulk inserts, _id reads.
    floor = ground.database_figures(threads=CLIENTS)
    figures: dict[str, Any] = {"ground": floor}
    parts = set(os.environ.get("BENCH_PARTS", "dispatch,sweep,stats").split(","))
    if "dispatch" in parts:
        figures.update(dispatch_figures(floor))
    if "sweep" in parts:
        small = sweep_seconds(10_000)
        large = sweep_seconds(int(os.environ.get("BENCH_OPEN_TASKS", "1000000")))
        figures.update(
            sweep_s_10k_open=round(small, 2),
            sweep_s_1m_open=round(large, 2),
            sweep_ratio=round(large / small, 2),
            sweep_cost_by_open_tasks=SWEEP_COST,
        )
    if "stats" in parts:
        figures.update(stats_figures())
        # The read model's question is a few reads by _id: one such read over its time.
        figures["stats_to_id_read_ratio"] = ground.ratio(
            1000 / floor["id_reads_per_s_one_thread"], figures["stats_query_ms"]
        )
    figures["database"] = "FerretDB 1.24 (SQLite), with deploy/local/ferretdb-id-index.patch"
    print(json.dumps(figures))


def dispatch_figures(floor: dict[str, Any]) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    before = processes.snapshot(GATEWAY)
    figures["dispatch_per_s"] = round(asyncio.run(dispatch_per_s()), 1)
    after = processes.snapshot(GATEWAY)
    dispatched = int(figures["dispatch_per_s"] * DISPATCH_SECONDS)
    figures["per_dispatch_by_process"] = processes.per_operation(before, after, dispatched)
    figures["dispatch_to_single_inserts_ratio"] = ground.ratio(
        figures["dispatch_per_s"], floor[f"single_inserts_per_s_{CLIENTS}_threads"]
    )
    log(f"dispatch: {figures['dispatch_per_s']} /s")
    return figures


if __name__ == "__main__":
    main()
