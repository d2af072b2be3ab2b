"""City-day figures, one JSON object on stdout.

A morning in the city at a fixed request rate on loopback: citizens show their codes at
metro gates (a fresh code, then the gate's check), hotels check a shown certificate field
(亮证), anyone checks a printed certificate, citizens read their policy matches and their
profile, supervisors read the task board and street staff open tasks. Open loop: each step
is started on schedule whatever the answers before it, and the latency of its first request
is counted from when the step was due, so a slow suite shows as latency, not as a politely
lower rate (the second request of a step, the gate's or the hotel's check, from when it was
sent).

Run twice, on a suite this script starts (instance ``bench``, port 19800): with one process
of every service and one gateway worker, then with two of each. Then one operation, the
public certificate check, at the same rate through our gateway and through a nameko
``@http`` gateway (bench/nameko_gateway.py) on the same suite, side by side.

    .venv/bin/python bench/city_day.py    # CITY_DAY_RATES=40,60,100 CITY_DAY_SECONDS=60

``CITY_DAY_ON=year`` runs the mix instead on the suite ``make up`` started, holding the
district's year (``make bench-fixture``), with one process of each service: the suite is
started again with the rate limits lifted for the run, and once more as it was afterwards.

Each configuration runs the mix at every rate of ``CITY_DAY_RATES`` (steps a second; a step
is 1.4 requests on average): an ordinary morning (40), a busy one (60), and a rush past what
two cores can serve (100), to show how it fails: later or refused at once (503 with
Retry-After, past the gateway's MAX_IN_FLIGHT), never wrongly.
"""

from __future__ import annotations

import itertools
import json
import os
import platform
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import ground, processes  # noqa: E402
from tests.conftest import Suite, nameko_process, started_suite  # noqa: E402
from tests.e2e.conftest import load_demo, token_for  # noqa: E402
from tests.e2e.test_certs import issue_disability  # noqa: E402

RATES = [float(r) for r in os.environ.get("CITY_DAY_RATES", "40,60,100").split(",")]
RATE = RATES[0]  # steps started per second; the side-by-side runs at the first rate
SECONDS = float(os.environ.get("CITY_DAY_SECONDS", "60"))
SIDE_BY_SIDE_SECONDS = float(os.environ.get("CITY_DAY_SIDE_SECONDS", "30"))
PORT, NAMEKO_GATEWAY_PORT = 19800, 19890
# Steps the generator keeps going at once: more than a gateway process admits (MAX_IN_FLIGHT,
# 64), so past capacity the gateway decides what waits and what is refused, not this script.
IN_FLIGHT = 256
# Per 100 steps; a scan and a shown certificate are two requests each.
MIX = {
    "scan": 30,
    "matches": 20,
    "public_check": 15,
    "presentation": 10,
    "task_board": 10,
    "me": 10,
    "task_create": 5,
}
UNLIMITED = {  # the rate limits are for hostile clients, not for this bench's one address
    "PUBLIC_RATE_PER_MINUTE": "1000000000",
    "VERIFY_RATE_PER_MINUTE": "1000000000",
    "LOGIN_RATE_PER_MINUTE": "1000000000",
    "CODE_TTL_SECONDS": "60",
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class Outcome:
    operation: str
    status: int
    seconds: float


@dataclass
class City:
    """Who acts, and the things the steps need, prepared before the clock starts."""

    headers: dict[str, dict[str, str]]
    certificate_id: str
    certificate_number: str


@dataclass
class Recorder:
    outcomes: list[Outcome] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def timed(
        self, operation: str, due: float, send: Callable[[], httpx.Response]
    ) -> httpx.Response | None:
        try:
            response: httpx.Response | None = send()
            status = response.status_code if response is not None else -1
        except httpx.HTTPError:
            response, status = None, -1
        with self.lock:
            self.outcomes.append(Outcome(operation, status, time.monotonic() - due))
        return response


def login(http: httpx.Client, username: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(http, username)}"}


def prepare(http: httpx.Client) -> City:
    people = ("citizen.wang", "citizen.li", "verifier.metro", "verifier.hotel", "staff.nh")
    headers = {name: login(http, name) for name in (*people, "supervisor.hp", "staff.cl")}
    holder = http.get("/v1/me", headers=headers["citizen.wang"]).json()["subject_id"]
    issued = issue_disability(
        http, headers["staff.cl"], holder, "肢体", "三级", f"city-day-{holder}"
    )
    issued.raise_for_status()
    certificate = issued.json()
    return City(headers, certificate["id"], certificate["number"])


def steps(city: City, recorder: Recorder, http: httpx.Client) -> dict[str, Callable[[float], Any]]:
    h = city.headers

    def shown_then_checked(
        due: float,
        names: tuple[str, str],
        show: Callable[[], httpx.Response],
        check: Callable[[str], httpx.Response],
    ) -> None:
        """A code or a certificate field shown (timed from when the step was due), then
        checked by a terminal with the token shown (timed from when the check was sent)."""
        shown = recorder.timed(names[0], due, show)
        if shown is not None and shown.status_code in (200, 201):
            token = shown.json()["token"]
            recorder.timed(names[1], time.monotonic(), lambda: check(token))

    def scan(due: float) -> None:
        shown_then_checked(
            due,
            ("code_issue", "code_verify"),
            lambda: http.post("/v1/me/code", headers=h["citizen.wang"]),
            lambda token: http.post(
                "/v1/codes/verify",
                headers=h["verifier.metro"],
                json={"token": token, "scene": "metro"},
            ),
        )

    def presentation(due: float) -> None:
        shown_then_checked(
            due,
            ("present", "presentation_verify"),
            lambda: http.post(
                "/v1/presentations",
                headers=h["citizen.wang"],
                json={"certificate_ids": [city.certificate_id], "fields": ["grade"]},
            ),
            lambda token: http.post(
                "/v1/presentations/verify",
                headers=h["verifier.hotel"],
                json={"token": token, "purpose": "hotel"},
            ),
        )

    number = city.certificate_number
    return {
        "scan": scan,
        "presentation": presentation,
        "public_check": lambda due: recorder.timed(
            "public_check", due, lambda: http.get(f"/v1/certificates/{number}/verify")
        ),
        "matches": lambda due: recorder.timed(
            "matches", due, lambda: http.get("/v1/me/matches", headers=h["citizen.li"])
        ),
        "task_board": lambda due: recorder.timed(
            "task_board", due, lambda: http.get("/v1/tasks", headers=h["supervisor.hp"])
        ),
        "me": lambda due: recorder.timed(
            "me", due, lambda: http.get("/v1/me", headers=h["citizen.wang"])
        ),
        "task_create": lambda due: recorder.timed(
            "task_create",
            due,
            lambda: http.post(
                "/v1/tasks",
                headers=h["staff.nh"],
                json={"title": "共享单车乱停", "category": "市容"},
            ),
        ),
    }


def schedule(mix: dict[str, int]) -> Iterator[str]:
    """The steps in a fixed shuffled order that keeps the mix's proportions."""
    order = [name for name, weight in mix.items() for _ in range(weight)]
    random.Random(2026).shuffle(order)
    return itertools.cycle(order)


def drive(
    run: Callable[[str, float], Any], mix: dict[str, int], rate: float, seconds: float
) -> float:
    """Start one step every 1/rate s for ``seconds``; returns the wall time until all ended."""
    names = schedule(mix)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=IN_FLIGHT) as pool:
        for i in itertools.count():
            due = started + i / rate
            if due - started >= seconds:
                break
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            pool.submit(run, next(names), due)
    return time.monotonic() - started


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summary(outcomes: list[Outcome], seconds: float) -> dict[str, Any]:
    by_operation: dict[str, Any] = {}
    for name in sorted({o.operation for o in outcomes}):
        mine = [o for o in outcomes if o.operation == name]
        # Latency of what was answered; a refusal (a quick 503) is counted as an error.
        latencies = [o.seconds * 1000 for o in mine if 200 <= o.status < 300]
        by_operation[name] = {
            "count": len(mine),
            "p50_ms": round(percentile(latencies, 0.50), 1) if latencies else None,
            "p99_ms": round(percentile(latencies, 0.99), 1) if latencies else None,
            "errors": sum(1 for o in mine if not 200 <= o.status < 300),
        }
        failed = Counter(str(o.status) for o in mine if not 200 <= o.status < 300)
        if failed:  # -1: no answer at all
            by_operation[name]["errors_by_status"] = dict(failed)
            refused = [o.seconds * 1000 for o in mine if not 200 <= o.status < 300]
            by_operation[name]["errors_p99_ms"] = round(percentile(refused, 0.99), 1)
    return {
        "requests": len(outcomes),
        "throughput_rps": round(len(outcomes) / seconds, 1),
        "errors": sum(op["errors"] for op in by_operation.values()),
        "by_operation": by_operation,
    }


def city_day(suite: Suite, rate: float, instance: str = "bench") -> dict[str, Any]:
    recorder = Recorder()
    limits = httpx.Limits(max_connections=IN_FLIGHT, max_keepalive_connections=IN_FLIGHT)
    with httpx.Client(base_url=suite.base_url, timeout=30, limits=limits) as http:
        city = prepare(http)
        table = steps(city, recorder, http)
        token = suite.env["METRICS_TOKEN"]
        before = processes.snapshot(suite.base_url, instance, token)
        elapsed = drive(lambda name, due: table[name](due), MIX, rate, SECONDS)
        after = processes.snapshot(suite.base_url, instance, token)
    found = summary(recorder.outcomes, elapsed)
    # What one request of the mix costs each process (round trips and CPU), over the run.
    found["per_request_by_process"] = processes.per_operation(before, after, found["requests"])
    return found


@contextmanager
def nameko_gateway(suite: Suite) -> Iterator[str]:
    env = {
        **suite.env,
        "WEB_SERVER_ADDRESS": f"127.0.0.1:{NAMEKO_GATEWAY_PORT}",
        "SECRET_KEY": suite.secret("SECRET_KEY"),  # it signs its calls as the gateway does
    }
    process = nameko_process("bench/nameko_gateway.yaml", "bench.nameko_gateway", env)
    url = f"http://127.0.0.1:{NAMEKO_GATEWAY_PORT}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{url}/v1/certificates/none/verify", timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        process.wait(10)


def one_operation(base_url: str, number: str) -> dict[str, Any]:
    recorder = Recorder()
    with httpx.Client(base_url=base_url, timeout=30) as http:
        path = f"/v1/certificates/{number}/verify"

        def check(_: str, due: float) -> None:
            answer = recorder.timed("public_check", due, lambda: http.get(path))
            assert answer is None or answer.status_code != 200 or answer.json()["result"] == "valid"

        elapsed = drive(check, {"public_check": 1}, RATE, SIDE_BY_SIDE_SECONDS)
    return summary(recorder.outcomes, elapsed)["by_operation"]["public_check"]


def side_by_side(suite: Suite) -> dict[str, Any]:
    with httpx.Client(base_url=suite.base_url, timeout=30) as http:
        number = prepare(http).certificate_number
    ours = one_operation(suite.base_url, number)
    with nameko_gateway(suite) as url:
        theirs = one_operation(url, number)
    return {
        "operation": "GET /v1/certificates/{number}/verify",
        "fastapi_pika_gateway": ours,
        "nameko_http_gateway": theirs,
        "p50_difference_ms": round(ours["p50_ms"] - theirs["p50_ms"], 1),
    }


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "database": "FerretDB 1.24 (SQLite backend)",
        "broker": "RabbitMQ (Debian package)",
    }


@contextmanager
def the_year() -> Iterator[Suite]:
    """The suite ``make up`` started (instance ``main``, port 8000, its databases holding the
    year), started again with this bench's settings, and again as it was afterwards."""
    env = {**os.environ, **UNLIMITED, "SUITE": "main"}
    script = ["bash", "deploy/local/suite.sh"]
    subprocess.run([*script, "stop"], cwd=ROOT, env=env, check=True)
    subprocess.run([*script, "start"], cwd=ROOT, env=env, check=True)
    try:
        yield Suite("http://127.0.0.1:8000", {**env, "METRICS_TOKEN": ""}, ROOT / "var")
    finally:
        subprocess.run([*script, "stop"], cwd=ROOT, check=True)
        subprocess.run([*script, "start"], cwd=ROOT, check=True)


def on_the_year() -> None:
    figures: dict[str, Any] = {
        "on": "the district's year (bench/district_year.py) in the suite make up started",
        "rates_steps_per_s": RATES,
        "seconds": SECONDS,
        "mix_per_100_steps": MIX,
        "machine": machine(),
        "ground": ground.figures(),
    }
    with the_year() as suite:
        figures["replicas_1"] = {f"rate_{rate:g}": city_day(suite, rate, "main") for rate in RATES}
    print(json.dumps(figures))


def main() -> None:
    if os.environ.get("CITY_DAY_ON") == "year":
        on_the_year()
        return
    figures: dict[str, Any] = {
        "rates_steps_per_s": RATES,
        "seconds": SECONDS,
        "mix_per_100_steps": MIX,
        "machine": machine(),
        # The ground, on a quiet machine before any suite starts: raw single inserts from 16
        # threads, bulk inserts, _id reads, Ed25519 verifies.
        "ground": ground.figures(),
    }
    for replicas in (1, 2):
        log(f"city day with {replicas} replica(s) of every service")
        suite_runs = started_suite("bench", PORT, REPLICAS=str(replicas), **UNLIMITED)
        suite = next(suite_runs)
        try:
            load_demo(suite)
            figures[f"replicas_{replicas}"] = {
                f"rate_{rate:g}": city_day(suite, rate) for rate in RATES
            }
            if replicas == 1:
                log("one operation through both gateways")
                figures["gateway_side_by_side"] = side_by_side(suite)
        finally:
            next(suite_runs, None)
    inserts = figures["ground"]["single_inserts_per_s_16_threads"]
    for rate in RATES:
        answered = figures["replicas_1"][f"rate_{rate:g}"]["throughput_rps"]
        figures["replicas_1"][f"rate_{rate:g}"]["to_single_inserts_ratio"] = ground.ratio(
            answered, inserts
        )
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
