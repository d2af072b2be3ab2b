"""Policy figures, one JSON object on stdout, measured in one run on one seeded data set:
``BATCH_SUBJECTS`` citizens × 20 integer facts drawn from ``numpy.random.default_rng(2026)``,
100 generated policies (all / any / not trees, dated thresholds, fixed / rate-and-cap /
bracket amounts).

* ``batch_match_s``: our batch engine (services.policy.columnar, the one publishing uses)
  over all citizens × 100 policies, every check's result kept; ``openfisca_batch_s``: the
  same rules as an OpenFisca tax-benefit system (bench/openfisca_city.py, run in
  ``.venv-bench``) on the same data; ``counts_identical``: both give the same eligible count
  and total for every policy; ``batch_speedup``: OpenFisca's seconds over ours.
* ``incremental_p50_ms`` / ``incremental_p99_ms``: one fact of one subject changes → the
  subject re-matched against every published policy that reads it, from the facts the write
  returned, every check explained (the first ``SUBJECTS`` citizens stored in the database);
  ``incremental_stored_*``: the same with the fact written and every result stored in the
  database (FerretDB round trips); ``openfisca_incremental_ms``: OpenFisca's time to answer
  for that one subject.
* ``simulate_414700_s``: a draft policy simulated by the service's own function over that
  many enterprises stored in the database (reading them is most of it on FerretDB).
* ``payouts_per_s`` in a run of ``PAYOUTS``; ``peak_rss_mb`` of this process.

    .venv/bin/python bench/policy.py   (make bench creates .venv-bench)
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench import ground, processes
from services.common.access import acting_as
from services.common.actor import Actor
from services.common.document import Document
from services.common.mongo import client_for
from services.policy import (
    access,
    catalogue,
    columnar,
    facts,
    matching,
    payouts,
    policies,
    rematch,
    subjects,
)
from services.policy.store import PolicyStore
from services.policy.work import Work

ROOT = Path(__file__).resolve().parent.parent
MONGO_URL = os.environ.get("MONGO_URL", "mongodb://127.0.0.1:27017/")
SUBJECTS = int(os.environ.get("BENCH_SUBJECTS", "10000"))
BATCH_SUBJECTS = int(os.environ.get("BENCH_BATCH_SUBJECTS", "1000000"))
SIMULATE_SUBJECTS = int(os.environ.get("BENCH_SIMULATE_SUBJECTS", "414700"))
PAYOUTS = int(os.environ.get("BENCH_PAYOUTS", "100000"))
OPENFISCA_PYTHON = ROOT / ".venv-bench" / "bin" / "python"
FACTS = [f"f{i:02d}" for i in range(20)]
STAFF = Actor(account_id="bench", roles=("staff",), org_path="C")
ON = date(2026, 11, 24)
PERIOD = ON.strftime("%Y-%m")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def generated_check(rng: np.random.Generator, j: int, code: str, params: dict[str, Any]) -> Any:
    fact = FACTS[int(rng.integers(len(FACTS)))]
    op = str(rng.choice(["<", "<=", ">", ">=", "==", "!=", "in", "not_in"]))
    check: dict[str, Any] = {"fact": fact, "op": op, "label": f"条件{j}", "clause": f"第{j}条"}
    if op in ("in", "not_in"):
        check["value"] = sorted(int(v) for v in rng.choice(101, size=40, replace=False))
    elif op in (">", ">=") and rng.random() < 0.3:
        # A dated threshold: stricter from 2026-07-01, so the value in force is the later one.
        name = f"threshold{j}"
        low = int(rng.integers(10, 60))
        params[name] = [
            {"from": "2025-01-01", "value": low},
            {"from": "2026-07-01", "value": low + 5},
        ]
        check["param"] = name
    else:
        check["value"] = int(rng.integers(10, 91))
    return check


def generated_policy(i: int, rng: np.random.Generator) -> dict[str, Any]:
    code = f"p{i:03d}"
    params: dict[str, Any] = {}
    checks = [generated_check(rng, j, code, params) for j in range(int(rng.integers(2, 6)))]
    shape = i % 4
    if shape == 0:
        conditions: dict[str, Any] = {"all": checks}
    elif shape == 1:
        conditions = {"all": [checks[0], {"any": checks[1:]}]}
    elif shape == 2:
        conditions = {"all": [*checks[:-1], {"not": checks[-1]}]}
    else:
        conditions = {"any": [{"all": checks[:2]}, {"all": checks[2:] or checks[:1]}]}
    kind = i % 3
    of = FACTS[int(rng.integers(len(FACTS)))]
    if kind == 0:
        amount: dict[str, Any] = {"fixed": int(rng.integers(1, 500)) * 100}
    elif kind == 1:
        rate = float(rng.choice([0.25, 0.5, 0.75, 1.5]))  # exact in binary: both engines agree
        amount = {"rate": rate, "of": of, "cap": int(rng.integers(20, 120))}
    else:
        amount = {
            "brackets": {
                "of": of,
                "steps": [
                    {"from": 0, "amount": 1000},
                    {"from": 40, "amount": 3000},
                    {"from": 80, "amount": 8000},
                ],
            }
        }
    return {
        "code": code,
        "title": f"政策{i}",
        "department": "区政府",
        "category": "bench",
        "subject_type": "person",
        "mode": "auto",
        "budget": None,
        "parameters": params,
        "conditions": conditions,
        "amount": amount,
    }


def stored_policies(rng: np.random.Generator) -> list[Document]:
    return [
        {
            "_id": f"pol_{i:03d}",
            **policies.validate_definition(generated_policy(i, rng)),
            "version": 1,
            "status": "published",
            "org_path": "C",
            "rev": 0,
        }
        for i in range(100)
    ]


def seed(db: Any, data: dict[str, np.ndarray], count: int, kind: str) -> float:
    """The first ``count`` rows stored as fact documents; returns the seconds it took."""
    now = datetime.now(UTC)
    started = time.perf_counter()
    for offset in range(0, count, 5000):
        rows = range(offset, min(count, offset + 5000))
        db.facts.insert_many(
            [
                {
                    "_id": f"{kind[0]}_bench{i:08d}",
                    "kind": kind,
                    "org_path": f"C/D{i % 10}",
                    "rev": 0,
                    "values": {
                        f: {"value": int(data[f][i]), "source": "bench", "as_of": now}
                        for f in FACTS
                    },
                }
                for i in rows
            ]
        )
    return time.perf_counter() - started


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def batch(published: list[Document], data: dict[str, np.ndarray]) -> tuple[float, dict[str, Any]]:
    """Our engine over every citizen × every policy, every check kept (as publishing does)."""
    started = time.perf_counter()
    columns = {
        f: columnar.Column(values, np.ones(len(values), dtype=bool)) for f, values in data.items()
    }
    size = len(data[FACTS[0]])
    kept: list[columnar.PolicyBatch] = []
    for policy in published:
        kept.append(columnar.match_columns(policy, columns, size, ON))
    elapsed = time.perf_counter() - started
    # Every check's result is there to explain any citizen: spot-check some against the
    # scalar engine, which reads the same facts one subject at a time.
    for i in (0, size // 2, size - 1):
        values = {f: int(data[f][i]) for f in FACTS}
        for result in kept:
            assert result.explain(i, columns) == matching.match(result.policy, values, ON)
    summary = {
        "eligible": {r.policy["code"]: r.eligible_count for r in kept},
        "totals": {r.policy["code"]: r.total_amount for r in kept},
        "checks_kept": sum(len(r.checks) for r in kept) * size,
    }
    return elapsed, summary


def openfisca(published: list[Document], data: dict[str, np.ndarray]) -> dict[str, Any] | None:
    if not OPENFISCA_PYTHON.exists():
        log(f"{OPENFISCA_PYTHON} missing (make bench creates it): OpenFisca not measured")
        return None
    with tempfile.TemporaryDirectory() as tmp:
        rules = Path(tmp) / "policies.json"
        rules.write_text(
            json.dumps(
                [
                    {k: p[k] for k in ("code", "parameters", "conditions", "amount", "reads")}
                    for p in published
                ]
            )
        )
        arrays = Path(tmp) / "facts.npz"
        np.savez(arrays, **data)
        done = subprocess.run(
            [
                str(OPENFISCA_PYTHON),
                str(ROOT / "bench" / "openfisca_city.py"),
                str(rules),
                str(arrays),
                PERIOD,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def incremental(
    client: Any, rng: np.random.Generator, published: list[Document], data: dict[str, np.ndarray]
) -> dict[str, Any]:
    log(f"incremental over {SUBJECTS:,} stored citizens")
    name = f"bench_policy_{uuid.uuid4().hex[:8]}"
    client.drop_database(name)
    db = client[name]
    db.policies.insert_many(published)
    seed(db, data, SUBJECTS, "person")
    store = PolicyStore(db)
    catalogue.rebuild(store)
    compute, stored = [], []
    for k in range(300):
        subject = f"p_bench{int(rng.integers(SUBJECTS)):08d}"
        fact = FACTS[k % len(FACTS)]
        now = datetime.now(UTC)
        started = time.perf_counter()
        document, changed = facts.put_facts(store, now, subject, {fact: k % 101}, "bench")
        rematch.rematch_subject(store, now, subject, changed, document)
        stored.append((time.perf_counter() - started) * 1000)
        # The re-match itself, as the service does it once the write has returned the
        # subject's facts: the published index checked (one small revision read), every
        # policy that reads the fact matched with every check explained; nothing written.
        started = time.perf_counter()
        values = facts.with_derived(facts.current(document, now), ON)
        for policy in catalogue.published(store, "person", {fact}):
            matching.match(policy, values, ON)
        compute.append((time.perf_counter() - started) * 1000)
    client.drop_database(name)
    return {
        "incremental_p50_ms": round(percentile(compute, 0.5), 2),
        "incremental_p99_ms": round(percentile(compute, 0.99), 2),
        "incremental_stored_p50_ms": round(percentile(stored, 0.5), 2),
        "incremental_stored_p99_ms": round(percentile(stored, 0.99), 2),
    }


def simulate(client: Any, rng: np.random.Generator, data: dict[str, np.ndarray]) -> dict[str, Any]:
    log(f"simulate over {SIMULATE_SUBJECTS:,} stored enterprises")
    name = f"bench_policy_sim_{uuid.uuid4().hex[:8]}"
    client.drop_database(name)
    sim = client[name]
    seeded = seed(sim, data, SIMULATE_SUBJECTS, "organisation")
    log(f"seeded {SIMULATE_SUBJECTS:,} enterprises in {seeded:.1f} s")
    draft = {**generated_policy(999, rng), "subject_type": "organisation", "budget": 10**9}
    policy = {
        "_id": "pol_draft",
        **policies.validate_definition(draft),
        "version": 1,
        "status": "draft",
        "org_path": "C",
    }
    ours_cpu, database_cpu = time.process_time(), processes.cpu_of("ferretdb")
    started = time.perf_counter()
    report = rematch.simulate(PolicyStore(sim), datetime.now(UTC), policy, lambda _path: True)
    elapsed = time.perf_counter() - started
    ours_cpu, database_cpu = (
        time.process_time() - ours_cpu,
        processes.cpu_of("ferretdb") - database_cpu,
    )
    # The ground: the same documents read whole by raw pymongo, nothing done with them.
    started = time.perf_counter()
    read = sum(1 for _ in sim.facts.find({"kind": "organisation"}))
    read_s = time.perf_counter() - started
    client.drop_database(name)
    return {
        "simulate_414700_s" if SIMULATE_SUBJECTS == 414_700 else "simulate_s": round(elapsed, 2),
        "simulate_subjects": SIMULATE_SUBJECTS,
        "simulate_eligible": report["eligible"],
        "simulate_cpu_s": {
            "bench (the service's code)": round(ours_cpu, 1),
            "FerretDB": round(database_cpu, 1),
        },
        "simulate_ground_raw_read_s": round(read_s, 2),
        "simulate_ground_documents": read,
        "simulate_to_raw_read_ratio": ground.ratio(read_s, elapsed),
    }


def unpaid(_payout: Document) -> tuple[str, str]:
    """The payment partner of a confirm-mode run, never asked (payouts wait to be confirmed)."""
    return "failed", "unused"


def payout_rate(client: Any) -> dict[str, Any]:
    log(f"payout run of {PAYOUTS:,}")
    name = f"bench_policy_pay_{uuid.uuid4().hex[:8]}"
    client.drop_database(name)
    pay = client[name]
    now = datetime.now(UTC)
    for offset in range(0, PAYOUTS, 5000):
        pay.facts.insert_many(
            [
                {
                    "_id": f"p_pay{i:08d}",
                    "kind": "person",
                    "org_path": f"C/D{i % 10}",
                    "rev": 0,
                    "values": {"x": {"value": 1, "source": "bench", "as_of": now}},
                }
                for i in range(offset, min(PAYOUTS, offset + 5000))
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
    guard = acting_as(access.TABLE, "run_payouts", STAFF)
    work = Work.of(
        PolicyStore(pay),
        guard,
        now,
        lookup=lambda _subject: None,  # identity is not asked: no fact is written
        profiles_after=lambda _after, _limit: [],
        disburse=unpaid,
    )
    floor = ground.database_figures()["bulk_inserts_per_s"]
    cpu, ferretdb = time.process_time(), processes.cpu_of("ferretdb")
    sent = processes.commands_to(name)
    started = time.perf_counter()
    report = payouts.run(work, "pol_pay", "once")
    elapsed = time.perf_counter() - started
    cpu, ferretdb = time.process_time() - cpu, processes.cpu_of("ferretdb") - ferretdb
    assert report["offered"] == PAYOUTS, report
    sent = processes.commands_to(name) - sent
    client.drop_database(name)
    rate = PAYOUTS / elapsed
    return {
        "payouts_per_s": round(rate, 1),
        "payout_run_size": PAYOUTS,
        "payout_round_trips_per_payout": round(sent / PAYOUTS, 3),
        "payout_cpu_ms_per_payout": {
            "policy_code": round(cpu * 1000 / PAYOUTS, 3),
            "ferretdb": round(ferretdb * 1000 / PAYOUTS, 3),
        },
        "ground_bulk_inserts_per_s": floor,
        "payouts_to_bulk_inserts_ratio": ground.ratio(rate, floor),
    }


CERT_EVENTS = 300


def cert_event_cost(client: Any) -> dict[str, Any]:
    """What learning one certificate costs policy: a disability certificate issued to each of
    ``CERT_EVENTS`` citizens, with a published policy reading its facts (each event makes
    its subject eligible: a match stored and a message pushed)."""
    log(f"{CERT_EVENTS} certificate events learnt")
    name = f"bench_policy_certs_{uuid.uuid4().hex[:8]}"
    store = PolicyStore(client[name])
    body = {
        "code": "aids",
        "title": "辅具补贴",
        "department": "区残联",
        "category": "disability",
        "subject_type": "person",
        "mode": "push",
        "conditions": {"fact": "disability_category", "op": "exists", "label": "持证"},
    }
    store.insert_policy(
        {
            "_id": "pol_aids",
            **policies.validate_definition(body),
            "version": 1,
            "status": "published",
            "org_path": "C",
            "rev": 0,
        }
    )
    catalogue.rebuild(store)
    now = datetime.now(UTC)
    for i in range(CERT_EVENTS):
        subjects.learn_profile(
            store, now, {"subject": f"p_cert{i:06d}", "kind": "person", "org_path": "C/D1"}
        )
    sent = processes.commands_to(name)
    cpu, started = time.process_time(), time.perf_counter()
    for i in range(CERT_EVENTS):
        payload = {
            "subject": f"p_cert{i:06d}",
            "type": "disability_certificate",
            "number": f"DC{i:06d}",
            "version": 1,
            "rev": 0,
            "status": "valid",
            "face": {"category": "肢体", "grade": "二级"},
            "valid_from": "2026-01-01",
        }
        subjects.learn_certificate(store, now, "cert_issued", payload)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    sent = processes.commands_to(name) - sent
    client.drop_database(name)
    return {
        "cert_event_round_trips": round(sent / CERT_EVENTS, 2),
        "cert_event_ms": round(elapsed * 1000 / CERT_EVENTS, 2),
        "cert_event_policy_cpu_ms": round(cpu * 1000 / CERT_EVENTS, 2),
    }


def main() -> None:
    rng = np.random.default_rng(2026)
    published = stored_policies(rng)
    data = {f: rng.integers(0, 101, size=BATCH_SUBJECTS, dtype=np.int64) for f in FACTS}
    figures: dict[str, Any] = {"batch_subjects": BATCH_SUBJECTS}

    log(f"batch: {BATCH_SUBJECTS:,} citizens × {len(published)} policies")
    ours_s, ours = batch(published, data)
    figures["batch_match_s"] = round(ours_s, 2)
    figures["batch_checks_kept"] = ours["checks_kept"]
    figures["batch_eligible"] = sum(ours["eligible"].values())
    figures["batch_total_fen"] = sum(ours["totals"].values())
    log(f"ours: {ours_s:.2f} s; OpenFisca …")
    theirs = openfisca(published, data)
    if theirs is not None:
        figures["openfisca_batch_s"] = theirs["batch_s"]
        figures["batch_speedup"] = round(theirs["batch_s"] / ours_s, 2)
        figures["openfisca_incremental_ms"] = theirs["incremental_p50_ms"]
        figures["counts_identical"] = (
            theirs["eligible"] == ours["eligible"] and theirs["totals"] == ours["totals"]
        )
        log(f"OpenFisca: {theirs['batch_s']} s; identical: {figures['counts_identical']}")
    else:
        figures.update(
            openfisca_batch_s=None,
            batch_speedup=None,
            openfisca_incremental_ms=None,
            counts_identical=None,
        )

    client = client_for(MONGO_URL)
    for step in (
        lambda: incremental(client, rng, published, data),
        lambda: simulate(client, rng, data),
        lambda: payout_rate(client),
        lambda: cert_event_cost(client),
    ):
        measured = step()
        log(json.dumps(measured))  # each figure as it is measured (the run is long)
        figures.update(measured)
    figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    figures["database"] = "FerretDB 1.24 (SQLite), with deploy/local/ferretdb-id-index.patch"
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
