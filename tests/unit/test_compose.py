"""docker-compose.yml validates, and every process waits for what it needs to be healthy."""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT

SECRETS = {
    "SECRET_KEY": "k" * 48,
    "RABBITMQ_PASSWORD": "r" * 24,
    "FIRST_ADMIN_PASSWORD": "p" * 16,
    "BUS_TRUSTED_KEYS": "gateway=a,identity=b,certs=c,policy=d,tasks=e",
    **{
        f"BUS_SIGNING_KEY_{s}": "s" * 43
        for s in ("GATEWAY", "IDENTITY", "CERTS", "POLICY", "TASKS")
    },
}


def compose_config(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    if (
        shutil.which("docker")
        and subprocess.run(
            ["docker", "compose", "version"], capture_output=True, check=False
        ).returncode
        == 0
    ):
        command = ["docker", "compose", "config"]
    else:
        command = ["docker-compose", "config"]  # installed by deploy/local/install.sh
    clean = {k: v for k, v in os.environ.items() if k not in SECRETS}
    return subprocess.run(
        command, cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, check=False
    )


@pytest.fixture(scope="module")
def resolved() -> dict[str, Any]:
    result = compose_config(SECRETS)
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = yaml.safe_load(result.stdout)
    return config


def test_compose_refuses_to_start_without_secrets() -> None:
    result = compose_config({})
    assert result.returncode != 0
    assert "set " in result.stderr


def test_every_process_has_a_healthcheck(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    assert set(services) == {"rabbitmq", "mongo", "identity", "certs", "policy", "tasks", "gateway"}
    for name, service in services.items():
        assert "test" in service["healthcheck"], name


def test_services_wait_for_healthy_dependencies(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    for name in ("identity", "certs", "policy", "tasks"):
        assert services[name]["depends_on"] == {
            "rabbitmq": {"condition": "service_healthy"},
            "mongo": {"condition": "service_healthy"},
        }
        assert services[name]["read_only"] is True
    assert {d: c["condition"] for d, c in services["gateway"]["depends_on"].items()} == {
        "identity": "service_healthy",
        "certs": "service_healthy",
        "policy": "service_healthy",
        "tasks": "service_healthy",
    }
    assert services["identity"]["environment"]["SECRET_KEY"] == SECRETS["SECRET_KEY"]
