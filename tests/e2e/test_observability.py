"""What an operator watching the suite sees: one request id from the HTTP request through
every RPC and event it causes, in every service's JSON log lines; and each service's own
Prometheus metrics (calls by method and outcome, errors by type, queue depths, payouts by
state, the escalation sweep)."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.conftest import ROOT, Suite
from tests.e2e.test_certs import issue_disability
from tests.e2e.test_policy import eventually, register

Login = Callable[[str], dict[str, str]]
SERVICES = ("identity", "certs", "policy", "tasks")


def log_lines(suite_name: str, process: str) -> list[dict[str, Any]]:
    """Every JSON line of ``process``'s logs (``policy.log``, and ``policy-2.log`` when two
    replicas run)."""
    lines = []
    for path in (ROOT / "var" / "log" / suite_name).glob(f"{process}*.log"):
        for line in path.read_text().splitlines():
            if line.startswith("{"):
                lines.append(json.loads(line))
    return lines


def services_seen(request_id: str) -> set[str]:
    seen = set()
    for process in ("gateway", *SERVICES):
        if any(line.get("request_id") == request_id for line in log_lines("e2e", process)):
            seen.add(process)
    return seen


def test_one_request_id_runs_through_every_rpc_and_event(http: httpx.Client, login: Login) -> None:
    request_id = f"trace-{uuid.uuid4().hex[:16]}"
    holder = register(http, login, "赵观测", "19700101")
    staff = {**login("staff.cl"), "X-Request-Id": request_id}
    # Issuing: gateway → certs (RPC) → identity (the holder's name, a nested RPC); then the
    # cert_issued event → policy, which re-matches the holder.
    issued = issue_disability(http, staff, holder, "视力", "二级", f"obs-{request_id}")
    assert issued.status_code == 201, issued.text
    assert issued.headers["x-request-id"] == request_id
    everywhere = {"gateway", "certs", "identity", "policy"}
    assert eventually(lambda: services_seen(request_id) >= everywhere), services_seen(request_id)
    policy_lines = [
        line for line in log_lines("e2e", "policy") if line.get("request_id") == request_id
    ]
    assert any(line.get("method") == "on_cert_issued" for line in policy_lines), policy_lines


def scrape(suite: Suite, process: str) -> str:
    """``process``'s metrics (``tasks``, ``tasks-2``) on the port it says it serves them."""
    port = int((ROOT / "var" / "run" / suite.env["SUITE"] / f"{process}.metrics").read_text())
    answer = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    assert answer.status_code == 200
    return answer.text


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of the first sample of ``name`` carrying all of ``labels``."""
    for line in text.splitlines():
        named = line.startswith((name + "{", name + " "))
        if named and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


@pytest.mark.parametrize("place", range(len(SERVICES)))
def test_every_service_counts_its_calls_errors_and_queues(
    http: httpx.Client, login: Login, running_suite: Suite, place: int
) -> None:
    service = SERVICES[place]
    assert http.get("/readyz").status_code == 200  # a health call to every service
    http.get("/v1/persons/p_missing", headers=login("staff.nh"))  # identity: NotFound
    # Every process of the service (a call reaches one of them).
    replicas = int(os.environ.get("REPLICAS", "1"))
    processes = [service, *(f"{service}-{i}" for i in range(2, replicas + 1))]
    texts = [scrape(running_suite, process) for process in processes]
    text = "\n".join(texts)
    health = [
        sample(t, "service_calls_seconds_count", service=service, method="health") for t in texts
    ]
    assert sum(h or 0 for h in health) >= 1
    waiting = sample(text, "service_queue_messages", service=service, queue=f"rpc-{service}")
    attached = sample(text, "service_queue_consumers", service=service, queue=f"rpc-{service}")
    assert waiting is not None
    assert (attached or 0) >= 1
    if service == "identity":
        refused = [sample(t, "service_errors_total", type="NotFound") for t in texts]
        assert sum(r or 0 for r in refused) >= 1
    if service == "policy":
        assert "# TYPE policy_payouts gauge" in text
    if service == "tasks":
        assert sample(text, "tasks_escalation_sweep_age_seconds") is not None
        assert sample(text, "tasks_escalation_lag_seconds") is not None
