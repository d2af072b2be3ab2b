"""Shared by every test layer.

``running_suite`` starts the suite the way ``make up`` does (deploy/local/suite.sh), but as its
own instance: its own RabbitMQ vhost, its own databases (prefix ``e2e_``) and its own gateway
port, so it never touches a suite a developer started with ``make up``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pymongo
import pytest

ROOT = Path(__file__).resolve().parent.parent
MONGO_URL = os.environ.get("MONGO_URL", "mongodb://127.0.0.1:27017/")
ADMIN_USER = "admin"
ADMIN_PASSWORD = "Admin-e2e-2026"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked ``last`` run after all others (in their given order)."""
    items.sort(key=lambda item: item.get_closest_marker("last") is not None)


def ensure_vhost(name: str) -> str:
    """An AMQP URI for vhost ``name`` on the local broker (or TEST_AMQP_URI as given)."""
    if os.environ.get("TEST_AMQP_URI"):
        return os.environ["TEST_AMQP_URI"]
    subprocess.run(["rabbitmqctl", "-q", "add_vhost", name], check=False, capture_output=True)
    subprocess.run(
        ["rabbitmqctl", "-q", "set_permissions", "-p", name, "guest", ".*", ".*", ".*"],
        check=True,
        capture_output=True,
    )
    return f"amqp://guest:guest@127.0.0.1:5672/{name}"


def drop_databases(prefix: str) -> None:
    client: pymongo.MongoClient[dict[str, object]] = pymongo.MongoClient(MONGO_URL)
    try:
        for name in client.list_database_names():
            if name.startswith(prefix):
                client.drop_database(name)
    finally:
        client.close()


def nameko_process(config: str, module: str, env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    """``nameko run`` of ``module`` with ``config``, a process of its own (its output dropped)."""
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "nameko"), "run", "--config", config, module],
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@dataclass(frozen=True)
class Suite:
    base_url: str
    env: dict[str, str]
    var: Path

    def script(self, *args: str) -> None:
        subprocess.run(["bash", *args], cwd=ROOT, env=self.env, check=True)

    def secret(self, name: str) -> str:
        """A demo secret the suite made (var/secrets.env), for signing as a partner would."""
        for line in (ROOT / "var" / "secrets.env").read_text().splitlines():
            key, _, value = line.partition("=")
            if key == name:
                return value
        raise KeyError(name)


def started_suite(name: str, port: int, **settings: str) -> Iterator[Suite]:
    """The suite as ``make up`` starts it, as instance ``name``: vhost ``oct-<name>``,
    databases ``<name>_*``, the gateway on ``port`` and the demo partners on the next ones
    (``port + 701``, ``port + 702``); stopped afterwards. ``settings`` override the test
    settings below (``REPLICAS="2"``, a rate limit)."""
    var = ROOT / "var" / f"{name}-state"
    var.mkdir(parents=True, exist_ok=True)
    drop_databases(f"{name}_")
    env = {
        **os.environ,
        "SUITE": name,
        "GATEWAY_PORT": str(port),
        "AMQP_URI": ensure_vhost(f"oct-{name}"),
        "DB_PREFIX": f"{name}_",
        "MONGO_URL": MONGO_URL,
        "ENVIRONMENT": "test",
        "FIRST_ADMIN_USER": ADMIN_USER,
        "FIRST_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "RPC_TIMEOUT": "5",
        "HEALTH_TIMEOUT": "2",
        "CODE_TTL_SECONDS": "10",
        "CERT_EXPIRY_SWEEP_SECONDS": "1",
        "TASK_SWEEP_SECONDS": "1",
        # Every test request comes from 127.0.0.1: the limits are counted in a suite of their
        # own (tests/limits), not against the whole session's traffic.
        "PUBLIC_RATE_PER_MINUTE": "1000000",
        "VERIFY_RATE_PER_MINUTE": "1000000",
        "LOGIN_RATE_PER_MINUTE": "1000000",
        "BODY_TIMEOUT_SECONDS": "2",
        "METRICS_TOKEN": "metrics-" + name,
        "PAYMENT_PORT": str(port + 701),
        "SMS_PORT": str(port + 702),
        **settings,
    }
    suite = Suite(base_url=f"http://127.0.0.1:{port}", env=env, var=var)
    suite.script("deploy/local/suite.sh", "stop")
    for kept in (ROOT / "var" / "run").glob(f"{name}-*.jsonl"):
        kept.unlink()  # the demo partners' records of an earlier run (payments, texts)
    started = subprocess.run(
        ["bash", "deploy/local/suite.sh", "start"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    sys.stderr.write(started.stderr)  # a process started again during start-up says so
    if started.returncode != 0:
        # Every test of the session would fail on this one cause: stop the session and say
        # which process did not start and what its log ended with (suite.sh prints both).
        suite.script("deploy/local/suite.sh", "stop")
        pytest.exit(f"suite {name!r} did not start:\n{started.stderr[-6000:]}", returncode=1)
    try:
        yield suite
    finally:
        suite.script("deploy/local/suite.sh", "stop")


@pytest.fixture(scope="session")
def running_suite() -> Iterator[Suite]:
    yield from started_suite("e2e", int(os.environ.get("E2E_GATEWAY_PORT", "18000")))
