"""The gateway's pika client against the real broker and a real nameko service (the suite's
identity): replies, immediate 503 for a service with no queue, 504 on timeout."""

from __future__ import annotations

import asyncio
import json
import time

import pika
import pytest

from services.common.actor import Actor
from services.common.bus_identity import GATEWAY, BusKeys
from services.gateway.rpc import BrokerUnavailable, RemoteError, RpcClient, RpcTimeout
from tests.conftest import Suite

ADMIN = Actor(account_id="acc_admin", roles=("admin",))


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(asyncio.wait_for(coro, 60))


async def with_client(suite: Suite, body):  # type: ignore[no-untyped-def]
    """A client signing as the suite's gateway does (with the suite's secret)."""
    config = {"ENVIRONMENT": "test", "SECRET_KEY": suite.secret("SECRET_KEY")}
    client = RpcClient(
        suite.env["AMQP_URI"], BusKeys.from_config(config, GATEWAY), default_timeout=5
    )
    await client.start(wait=10)
    try:
        assert client.connected
        return await body(client)
    finally:
        await client.stop()


def test_a_call_reaches_a_nameko_service_and_errors_come_back(running_suite: Suite) -> None:
    async def body(client: RpcClient) -> None:
        assert await client.call("identity", "health") == {
            "service": "identity",
            "status": "ok",
            "database": "ok",
        }
        with pytest.raises(RemoteError) as missing:
            await client.call("identity", "get_account", {"account_id": "acc_missing"}, actor=ADMIN)
        assert missing.value.exc_type == "NotFound"
        assert missing.value.exc_path == "services.common.errors.NotFound"
        with pytest.raises(RemoteError) as bad_args:
            await client.call("identity", "get_account", {"nonsense": 1}, actor=ADMIN)
        assert bad_args.value.exc_type == "IncorrectSignature"
        answers = await asyncio.gather(*(client.call("identity", "health") for _ in range(50)))
        assert all(a["status"] == "ok" for a in answers)

    run(with_client(running_suite, body))


def test_a_service_with_no_queue_fails_at_once(running_suite: Suite) -> None:
    async def body(client: RpcClient) -> float:
        started = time.monotonic()
        with pytest.raises(BrokerUnavailable, match="not running"):
            await client.call("no_such_service", "health", timeout=5)
        return time.monotonic() - started

    elapsed = run(with_client(running_suite, body))
    assert elapsed < 5  # answered by basic.return, not by the timeout


def test_a_silent_service_times_out_and_its_request_expires(running_suite: Suite) -> None:
    uri = running_suite.env["AMQP_URI"]
    connection = pika.BlockingConnection(pika.URLParameters(uri))
    channel = connection.channel()
    channel.exchange_declare("nameko-rpc", exchange_type="topic", durable=True)
    channel.queue_declare("rpc-silent", auto_delete=False)
    channel.queue_purge("rpc-silent")
    channel.queue_bind("rpc-silent", "nameko-rpc", routing_key="silent.*")
    try:

        async def body(client: RpcClient) -> None:
            with pytest.raises(RpcTimeout):
                await client.call("silent", "anything", timeout=0.5)
            # A caller that gives up (here: cancelled after 0.3 s) leaves a request that
            # still carries its own 30 s expiry and nameko's content type.
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(client.call("silent", "later", timeout=30), 0.3)

        run(with_client(running_suite, body))
        method, properties, payload = channel.basic_get("rpc-silent", auto_ack=True)
        # The first request expired with its caller's timeout: RabbitMQ dropped it.
        assert method is not None
        assert method.routing_key == "silent.later"
        assert properties.expiration == "30000"
        assert properties.content_type == "application/json"
        assert properties.content_encoding == "utf-8"
        assert json.loads(payload) == {"args": [], "kwargs": {}}
        assert channel.basic_get("rpc-silent", auto_ack=True)[0] is None
    finally:
        channel.queue_delete("rpc-silent")
        connection.close()
