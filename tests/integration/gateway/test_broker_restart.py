"""RabbitMQ stops: /readyz and RPC-backed routes answer 503 at once (never hang); it comes
back: the same gateway process serves again, without a restart.

Runs after the end-to-end tests (it is given after them to pytest): it stops the broker they
talk to."""

from __future__ import annotations

import subprocess
import time

import httpx

from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, ROOT, Suite


def gateway_pid() -> int:
    return int((ROOT / "var/run/e2e/gateway.pid").read_text())


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=120)


def wait_until(predicate, seconds: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_broker_down_gives_503_fast_and_the_gateway_recovers(running_suite: Suite) -> None:
    with httpx.Client(base_url=running_suite.base_url, timeout=30) as http:
        assert http.get("/readyz").status_code == 200
        pid = gateway_pid()
        form = {"grant_type": "password", "username": ADMIN_USER, "password": ADMIN_PASSWORD}
        token = http.post("/v1/auth/token", data=form).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}

        rabbitmqctl("stop_app")
        try:
            assert wait_until(lambda: http.get("/readyz").status_code == 503, 10)
            for path in ("/readyz", "/v1/me", "/v1/services/identity/health"):
                started = time.monotonic()
                response = http.get(path, headers=headers)
                elapsed = time.monotonic() - started
                assert response.status_code == 503, (path, response.text)
                assert "retry-after" in response.headers
                assert elapsed < 5, (path, elapsed)  # within the RPC timeout, never a hang
            assert http.get("/readyz").json()["checks"]["broker"] == "unavailable"
            assert http.get("/healthz").status_code == 200
        finally:
            rabbitmqctl("start_app")

        assert wait_until(lambda: http.get("/readyz").status_code == 200, 60)
        me = http.get("/v1/me", headers=headers)
        assert me.status_code == 200
        assert me.json()["username"] == ADMIN_USER
        assert gateway_pid() == pid  # the same process, not restarted
