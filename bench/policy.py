"""Policy figures, one JSON object on stdout, measured in process on the real database (its
own ``bench_policy_*`` databases, dropped afterwards).

* ``incremental_p50_ms`` / ``incremental_p99_ms``: one fact of one subject changes → it is
  stored and the subject re-matched against every published policy that reads it, each
  result stored (100 generated policies, 10,000 subjects); ``incremental_compute_*`` is the
  re-match alone, without the database.
* ``batch_match_s`` with ``batch_subjects``: matching ``BATCH_SUBJECTS`` citizens against
  the 100 policies with every check's result kept (our engine, one process).
* ``simulate_s`` with ``simulate_subjects``: a draft over that many enterprises.
* ``payouts_per_s`` with ``payout_run_size``.
* ``peak_rss_mb``.

Not measured yet (null, see the policy issue): the OpenFisca comparison (``openfisca_*``,
``batch_speedup``, ``counts_identical``), and the full sizes (1,000,000 citizens, 414,700
enterprises, 100,000 payouts), which take hours with this engine on FerretDB.

    .venv/bin/python bench/policy.py
"""

from __future__ import annotations

import json
import os
import random
import resource
import sys
import time
from datetime import UTC, datetime
from typing import Any

from services.common.actor import Actor
from services.common.mongo import Document, client_for
from services.policy import facts, matching, payouts, policies, rematch

MONGO_URL = os.environ.get("MONGO_URL", "mongodb://127.0.0.1:27017/")
SUBJECTS = int(os.environ.get("BENCH_SUBJECTS", "10000"))
BATCH_SUBJECTS = int(os.environ.get("BENCH_BATCH_SUBJECTS", "20000"))
SIMULATE_SUBJECTS = int(os.environ.get("BENCH_SIMULATE_SUBJECTS", "20000"))
PAYOUTS = int(os.environ.get("BENCH_PAYOUTS", "2000"))
FACTS = [f"f{i:02d}" for i in range(20)]
STAFF = Actor(account_id="bench", roles=("staff",), org_path="C")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def generated_policy(i: int, rng: random.Random) -> dict[str, Any]:
    checks = [
        {
            "fact": fact,
            "op": rng.choice([">", ">=", "<", "=="]),
            "value": rng.randint(10, 90),
            "label": f"条件{j}",
        }
        for j, fact in enumerate(rng.sample(FACTS, rng.randint(2, 4)))
    ]
    return {
        "code": f"p{i:03d}",
        "title": f"政策{i}",
        "department": "区政府",
        "category": "bench",
        "subject_type": "person",
        "mode": "auto",
        "budget": None,
        "conditions": {"all": checks},
        "amount": {"rate": 0.5, "of": rng.choice(FACTS), "cap": 40},
    }


def seed(db: Any, subjects: int, rng: random.Random, kind: str = "person") -> None:
    now = datetime.now(UTC)
    for offset in range(0, subjects, 5000):
        db.facts.insert_many(
            [
                {
                    "_id": f"{kind[0]}_bench{i:08d}",
                    "kind": kind,
                    "org_path": f"C/D{i % 10}",
                    "rev": 0,
                    "values": {
                        f: {"value": rng.randint(0, 100), "source": "bench", "as_of": now}
                        for f in FACTS
                    },
                }
                for i in range(offset, min(subjects, offset + 5000))
            ]
        )


def publish_all(db: Any, rng: random.Random) -> list[Document]:
    published = []
    for i in range(100):
        definition = policies.validate_definition(generated_policy(i, rng))
        policy = {
            "_id": f"pol_{i:03d}",
            **definition,
            "version": 1,
            "status": "published",
            "org_path": "C",
            "rev": 0,
        }
        db.policies.insert_one(policy)
        published.append(policy)
    return published


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    rng = random.Random(2026)
    client = client_for(MONGO_URL)
    figures: dict[str, Any] = {}
    name = "bench_policy"
    client.drop_database(name)
    db = client[name]
    log(f"seeding {SUBJECTS:,} subjects and 100 policies")
    seed(db, SUBJECTS, rng)
    published = publish_all(db, rng)

    timings = []
    for k in range(300):
        subject = f"p_bench{rng.randrange(SUBJECTS):08d}"
        started = time.perf_counter()
        now = datetime.now(UTC)
        _doc, changed = facts.put_facts(db, now, subject, {rng.choice(FACTS): k % 100}, "bench")
        rematch.rematch_subject(db, now, subject, changed)
        timings.append((time.perf_counter() - started) * 1000)
    figures["incremental_p50_ms"] = round(percentile(timings, 0.5), 2)
    figures["incremental_p99_ms"] = round(percentile(timings, 0.99), 2)
    log(f"incremental, stored: p50 {figures['incremental_p50_ms']} ms")
    # The re-match itself, without the database: the policies reading the changed fact,
    # evaluated for one subject with every check kept.
    by_fact = {f: [p for p in published if f in p["reads"]] for f in FACTS}
    today = datetime.now(UTC).date()
    compute = []
    for _ in range(2000):
        subject_values = {f: rng.randint(0, 100) for f in FACTS}
        fact = rng.choice(FACTS)
        started = time.perf_counter()
        for policy in by_fact[fact]:
            matching.match(policy, subject_values, today)
        compute.append((time.perf_counter() - started) * 1000)
    figures["incremental_compute_p50_ms"] = round(percentile(compute, 0.5), 3)
    figures["incremental_compute_p99_ms"] = round(percentile(compute, 0.99), 3)

    # Batch: the engine alone over in-memory facts (the database read is a separate cost).
    values = [{f: rng.randint(0, 100) for f in FACTS} for _ in range(BATCH_SUBJECTS)]
    today = datetime.now(UTC).date()
    started = time.perf_counter()
    eligible = checks = 0
    for subject_values in values:
        for policy in published:
            result = matching.match(policy, subject_values, today)
            eligible += result["eligible"] == "yes"
            checks += len(result["checks"])
    figures["batch_match_s"] = round(time.perf_counter() - started, 2)
    figures["batch_subjects"] = BATCH_SUBJECTS
    figures["batch_checks_kept"] = checks
    figures["batch_eligible"] = eligible
    log(f"batch: {figures['batch_match_s']} s for {BATCH_SUBJECTS:,} × 100")

    sim = client["bench_policy_sim"]
    client.drop_database("bench_policy_sim")
    seed(sim, SIMULATE_SUBJECTS, rng, kind="organisation")
    draft = {**generated_policy(999, rng), "subject_type": "organisation"}
    policy = {
        "_id": "pol_draft",
        **policies.validate_definition(draft),
        "version": 1,
        "status": "draft",
        "org_path": "C",
    }
    started = time.perf_counter()
    rematch.simulate(sim, datetime.now(UTC), policy)
    figures["simulate_s"] = round(time.perf_counter() - started, 2)
    figures["simulate_subjects"] = SIMULATE_SUBJECTS
    client.drop_database("bench_policy_sim")

    pay = client["bench_policy_pay"]
    client.drop_database("bench_policy_pay")
    now = datetime.now(UTC)
    pay.facts.insert_many(
        [
            {
                "_id": f"p_pay{i:08d}",
                "kind": "person",
                "org_path": "C/D1",
                "rev": 0,
                "values": {"x": {"value": 1, "source": "bench", "as_of": now}},
            }
            for i in range(PAYOUTS)
        ]
    )
    body = {
        "code": "pay",
        "title": "兑现",
        "department": "区政府",
        "category": "bench",
        "subject_type": "person",
        "mode": "confirm",
        "budget": 10**12,
        "conditions": {"fact": "x", "op": "==", "value": 1, "label": "x"},
        "amount": {"fixed": 100},
    }
    pay.policies.insert_one(
        {
            "_id": "pol_pay",
            **policies.validate_definition(body),
            "version": 1,
            "status": "published",
            "org_path": "C",
            "rev": 0,
        }
    )
    started = time.perf_counter()
    report = payouts.run(pay, STAFF, now, "pol_pay", "once", lambda _p: ("failed", "unused"))
    elapsed = time.perf_counter() - started
    assert report["offered"] == PAYOUTS, report
    figures["payouts_per_s"] = round(PAYOUTS / elapsed, 1)
    figures["payout_run_size"] = PAYOUTS
    client.drop_database("bench_policy_pay")
    client.drop_database(name)

    figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    figures.update(
        openfisca_batch_s=None,
        batch_speedup=None,
        openfisca_incremental_ms=None,
        counts_identical=None,
        simulate_414700_s=None,
    )
    figures["database"] = "FerretDB 1.24 (SQLite), with deploy/local/ferretdb-id-index.patch"
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
