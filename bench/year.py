"""Requests on a district's year, one JSON object on stdout: each request through the gateway
of the suite ``make up`` started, after ``make bench-fixture`` loaded the year, answered in
how many milliseconds (the median of ``TRIES``, and the slowest), with the ground's read by
``_id`` beside them.

* ``status_list``: an issuer's signed status list (anyone, no token);
* ``my_scans``: a citizen's scan history, first page and the page before it;
  ``my_scans_busy_day``: that of a bench citizen scanned hundreds of times today;
* ``my_organisations`` / ``my_certificates``: an enterprise user's organisations, a citizen's
  wallet;
* ``unit_stats`` / ``unit_stats_last_year``: the district's statistics over its 100,000
  tasks, all time and from a date a year ago; ``board_first_page``: its board's first 50;
* ``year_citizen_scans``: the scan history of citizens of the year (registered during it,
  scanned at the gates), read through identity's store in this process, 50 of them.

    make up && make bench-fixture && .venv/bin/python bench/year.py
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx

from bench import ground
from bench.certs import login
from bench.identity import PASSWORD
from services.common.codec import city_day, utcnow
from services.common.mongo import client_for
from services.identity.store import IdentityStore, slot_key

GATEWAY = os.environ.get("GATEWAY_URL", "http://127.0.0.1:8000")
MONGO_URL = os.environ.get("MONGO_URL", "mongodb://127.0.0.1:27017/")
DISTRICT = "CN-LN-SY/HP"
TRIES = 7


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def timed(ask: Callable[[], Any], tries: int = TRIES) -> dict[str, float]:
    """Milliseconds of ``ask`` (which raises on a failed answer): median and slowest."""
    took = []
    for _ in range(tries):
        began = time.perf_counter()
        ask()
        took.append((time.perf_counter() - began) * 1000)
    return {"ms_median": round(statistics.median(took), 1), "ms_max": round(max(took), 1)}


def through_gateway() -> dict[str, Any]:
    figures: dict[str, Any] = {}
    with httpx.Client(base_url=GATEWAY, timeout=30) as client:

        def get(path: str, token: str = "", **params: Any) -> Any:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            response = client.get(path, headers=headers, params=params)
            if response.status_code != 200:
                raise SystemExit(f"{path}: {response.status_code} {response.text[:200]}")
            return response.json()

        issuers = get("/v1/issuers")
        issuer = issuers["items"][0]["id"] if "items" in issuers else issuers[0]["id"]
        figures["status_list"] = timed(lambda: get(f"/v1/issuers/{issuer}/status-list"))
        citizen = login(client, "citizen.wang")
        first = get("/v1/me/scans", citizen)
        figures["my_scans"] = timed(lambda: get("/v1/me/scans", citizen))
        figures["my_scans"]["shown"] = len(first["items"])
        if first.get("next_before"):
            before = first["next_before"]
            figures["my_scans_page_2"] = timed(lambda: get("/v1/me/scans", citizen, before=before))
        figures["my_certificates"] = timed(lambda: get("/v1/me/certificates", citizen))
        busy = client.post(  # a bench citizen scanned hundreds of times today (bench/identity.py)
            "/v1/auth/token",
            data={"grant_type": "password", "username": "bench.citizen0", "password": PASSWORD},
        )
        if busy.status_code == 200:
            token = busy.json()["access_token"]
            figures["my_scans_busy_day"] = timed(lambda: get("/v1/me/scans", token))
            figures["my_scans_busy_day"]["scans_today"] = scans_today()
        enterprise = login(client, "ent.xinghe")
        figures["my_organisations"] = timed(lambda: get("/v1/me/organisations", enterprise))
        supervisor = login(client, "supervisor.hp")
        stats = get(f"/v1/stats/units/{DISTRICT}", supervisor)
        figures["unit_stats"] = timed(lambda: get(f"/v1/stats/units/{DISTRICT}", supervisor))
        figures["unit_stats"]["received"] = stats.get("received")
        a_year_ago = (utcnow() - timedelta(days=365)).date().isoformat()
        figures["unit_stats_last_year"] = timed(
            lambda: get(f"/v1/stats/units/{DISTRICT}", supervisor, **{"from": a_year_ago})
        )
        board = get("/v1/tasks", supervisor, unit=DISTRICT, limit=50)
        figures["board_first_page"] = timed(
            lambda: get("/v1/tasks", supervisor, unit=DISTRICT, limit=50)
        )
        figures["board_first_page"]["shown"] = len(board["items"])
    return figures


def scans_today() -> int:
    """How many scans bench.citizen0 has today (the slots of its day)."""
    client = client_for(MONGO_URL)
    store = IdentityStore(client["identity"])
    account = store.database.accounts.find_one({"username": "bench.citizen0"}) or {}
    today = city_day(utcnow())
    found = 0
    while store.database.scan_days.find_one(
        {"_id": slot_key(account.get("subject_id", ""), today, found)}
    ):
        found += 1
    client.close()
    return found


def year_citizens(count: int = 50) -> dict[str, Any]:
    """The first page of the history of ``count`` citizens of the year, through the store."""
    client = client_for(MONGO_URL)
    store = IdentityStore(client["identity"])
    rng = random.Random(7)
    sample = [
        d["_id"]
        for d in store.database.persons.find({"_id": {"$gte": "p_"}}, {"_id": 1}).limit(5000)
    ]
    chosen = rng.sample(sample, min(count, len(sample)))
    took, shown = [], []
    for sub in chosen:
        began = time.perf_counter()
        shown.append(len(store.scans_of([sub], None, 20)))
        took.append((time.perf_counter() - began) * 1000)
    client.close()
    took.sort()
    return {
        "citizens": len(chosen),
        "scans_shown_mean": round(statistics.mean(shown), 1),
        "ms_median": round(statistics.median(took), 1),
        "ms_p90": round(took[int(len(took) * 0.9) - 1], 1),
        "ms_max": round(took[-1], 1),
    }


def main() -> None:
    floor = ground.database_figures(threads=4, seconds=2.0)
    figures: dict[str, Any] = {"ground": floor}
    figures.update(through_gateway())
    figures["year_citizen_scans"] = year_citizens()
    figures["id_read_ms"] = round(1000 / floor["id_reads_per_s_one_thread"], 2)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
