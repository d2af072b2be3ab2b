"""Helpers shared by the end-to-end tests: a consumer of nameko events on the real broker,
and running one of the offline verifiers as a terminal would."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

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
