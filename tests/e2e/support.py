"""Helpers shared by the end-to-end tests: a consumer of nameko events on the real broker,
running one of the offline verifiers as a terminal would, and a proxy asked and accepted."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pika
from pika.adapters.blocking_connection import BlockingChannel

from tests.conftest import ROOT, Suite


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
