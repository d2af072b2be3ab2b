"""Helpers shared by the end-to-end tests: a consumer of nameko events on the real broker,
running one of the offline verifiers as a terminal would, and a proxy asked and accepted."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pika
from pika.adapters.blocking_connection import BlockingChannel

from tests.conftest import ROOT, Suite
from tests.idnumbers import resident_id


@contextmanager
def event_queue(suite: Suite, service: str, *events: str) -> Iterator[tuple[BlockingChannel, str]]:
    """An exclusive queue bound to ``{service}.events`` for ``events``, on the suite's vhost."""
    connection = pika.BlockingConnection(pika.URLParameters(suite.env["AMQP_URI"]))
    try:
        channel = connection.channel()
        channel.exchange_declare(f"{service}.events", exchange_type="topic", durable=True)
        queue = channel.queue_declare("", exclusive=True).method.queue
        for event in events:
            channel.queue_bind(queue, f"{service}.events", routing_key=event)
        yield channel, queue
    finally:
        connection.close()


def next_event(
    channel: BlockingChannel, queue: str, seconds: float
) -> tuple[str, dict[str, Any]] | None:
    """The next event within ``seconds`` (acknowledged), or None."""
    method, _properties, body = next(channel.consume(queue, inactivity_timeout=seconds))
    channel.cancel()
    if method is None:
        return None
    channel.basic_ack(method.delivery_tag)
    return str(method.routing_key), json.loads(body)


def run_verifier(module: str, token: str, *args: str) -> tuple[int, dict[str, Any]]:
    """``python -m <module> TOKEN …`` as an offline terminal runs it: exit code and verdict."""
    done = subprocess.run(
        [sys.executable, "-m", module, token, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    verdict: dict[str, Any] = json.loads(done.stdout)
    return done.returncode, verdict


def grant_proxy(
    http: httpx.Client,
    principal: dict[str, str],
    proxy: dict[str, str],
    proxy_id_number: str,
    proxy_name: str,
    scopes: list[str],
    valid_until: str = "2030-01-01T00:00:00Z",
) -> dict[str, Any]:
    """A person asks someone to act for them, and that person accepts on their own page."""
    asked = http.post(
        "/v1/me/proxies",
        headers=principal,
        json={
            "proxy_id_number": proxy_id_number,
            "proxy_name": proxy_name,
            "scopes": scopes,
            "valid_until": valid_until,
        },
    )
    assert asked.status_code == 201, asked.text
    assert asked.json()["status"] == "pending"
    accepted = http.post(f"/v1/me/proxies/{asked.json()['id']}/accept", headers=proxy)
    assert accepted.status_code == 200, accepted.text
    result: dict[str, Any] = accepted.json()
    assert result["status"] == "active"
    return result


def fresh_person(
    http: httpx.Client, clerk: dict[str, str], name: str = "新居民", street: str = "NH"
) -> dict[str, str]:
    """A person registered just now by ``clerk`` (of street ``street``) with a login of
    their own: ``id``, ``username``, ``password``. A person holds one disability
    certificate, so a test that issues one gives it to someone of its own."""
    username = f"fresh.{secrets.token_hex(4)}"
    made = http.post(
        "/v1/persons",
        headers=clerk,
        json={
            "name": name,
            "id_number": resident_id("19600606"),
            "org_path": f"CN-LN-SY/HP/{street}",
            "account": {"username": username, "password": FRESH_PASSWORD},
        },
    )
    assert made.status_code == 201, made.text
    return {"id": str(made.json()["id"]), "username": username, "password": FRESH_PASSWORD}


def fresh_citizen(
    http: httpx.Client, clerk: dict[str, str], name: str = "新居民", street: str = "NH"
) -> tuple[str, dict[str, str]]:
    """:func:`fresh_person`, signed in: (person id, their Authorization header)."""
    person = fresh_person(http, clerk, name, street)
    form = {"grant_type": "password", "username": person["username"], "password": FRESH_PASSWORD}
    token = http.post("/v1/auth/token", data=form)
    assert token.status_code == 200, token.text
    return person["id"], {"Authorization": f"Bearer {token.json()['access_token']}"}


FRESH_PASSWORD = "Fresh-pass-2026"


def fresh_account(
    http: httpx.Client,
    by: dict[str, str],
    prefix: str,
    roles: list[str],
    org_path: str,
    **extra: Any,
) -> tuple[dict[str, Any], dict[str, str]]:
    """An account made just now by ``by`` (its answer), signed in: (account, Authorization)."""
    username = f"{prefix}.{secrets.token_hex(3)}"
    body = {"username": username, "password": FRESH_PASSWORD, "roles": roles, "org_path": org_path}
    made = http.post("/v1/accounts", headers=by, json={**body, **extra})
    assert made.status_code == 201, made.text
    form = {"grant_type": "password", "username": username, "password": FRESH_PASSWORD}
    token = http.post("/v1/auth/token", data=form)
    assert token.status_code == 200, token.text
    account: dict[str, Any] = made.json()
    return account, {"Authorization": f"Bearer {token.json()['access_token']}"}


def eventually(probe: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Poll until ``probe`` returns something truthy (events cross the broker)."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)
