"""The gateway's nameko RPC client over pika's asyncio adapter.

It speaks nameko 2.x's AMQP protocol exactly:

* requests go to the ``nameko-rpc`` topic exchange with routing key ``service.method``, body
  ``{"args": [...], "kwargs": {...}}``, ``content_type="application/json"`` and
  ``content_encoding="utf-8"`` (a nameko 2.x service crashes on a message without a content
  type), a ``correlation_id`` and ``reply_to``;
* nameko publishes replies to the same exchange with ``reply_to`` as the routing key, so the
  client binds its own exclusive reply queue to ``nameko-rpc`` with a uuid routing key;
* context travels in ``nameko.*`` headers (``call_id_stack``, ``request_id``, and signed,
  ``caller`` and ``actor``: :mod:`services.common.bus_identity`);
* every request is ``mandatory``: a service with no queue comes back as ``basic.return`` and
  fails at once (503) instead of waiting out the timeout; every call has a timeout (504), and
  the message carries the same ``expiration`` so a request nobody waited for is never run.

One connection per process. When the broker goes away every pending call fails with
:class:`BrokerUnavailable` and the client reconnects in the background with backoff; calls
made while it is down fail at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Mapping
from typing import Any

import pika
from pika.adapters.asyncio_connection import AsyncioConnection
from pika.channel import Channel
from pika.exceptions import AMQPError
from pika.spec import Basic, BasicProperties

from services.common.actor import Actor
from services.common.bus_identity import BusKeys

log = logging.getLogger(__name__)

RPC_EXCHANGE = "nameko-rpc"


class BrokerUnavailable(Exception):
    """The broker, or the service named, cannot take the call now (503)."""

    def __init__(self, detail: str, retry_after: int = 5) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class RpcTimeout(Exception):
    """The service did not answer within the call's timeout (504)."""


class RemoteError(Exception):
    """A service answered with an error dict (nameko's ``serialize`` format)."""

    def __init__(self, error: Mapping[str, Any]) -> None:
        self.exc_type = str(error.get("exc_type") or "UnknownError")
        self.exc_path = str(error.get("exc_path") or "")
        args = list(error.get("exc_args") or [])
        self.detail = str(args[0]) if args else str(error.get("value") or "")
        extra = args[1] if len(args) > 1 and isinstance(args[1], dict) else {}
        self.extra: dict[str, Any] = extra
        super().__init__(f"{self.exc_type}: {self.detail}")


class RpcClient:
    """Every call it makes carries the gateway's signed identity (``nameko.caller``) and, when
    made for a user, the user it vouches for, signed (``nameko.actor``)."""

    def __init__(
        self,
        amqp_uri: str,
        keys: BusKeys,
        default_timeout: float = 10.0,
        max_backoff: float = 2.0,
    ):
        self.amqp_uri = amqp_uri
        self.keys = keys
        self.default_timeout = default_timeout
        self.max_backoff = max_backoff
        self._connection: AsyncioConnection | None = None
        self._channel: Channel | None = None
        self._reply_key = ""
        self._pending: dict[str, asyncio.Future[Any]] = {}
        self._ready = asyncio.Event()
        self._lost = asyncio.Event()  # the channel or the connection went away
        self._closed = asyncio.Event()  # the connection (and its socket) is closed
        self._stopping = False
        self._runner: asyncio.Task[None] | None = None

    @property
    def connected(self) -> bool:
        return self._ready.is_set()

    async def start(self, wait: float = 0.0) -> None:
        """Start connecting in the background; optionally wait up to ``wait`` s to be ready."""
        self._runner = asyncio.create_task(self._run(), name="rpc-connection")
        if wait > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ready.wait(), wait)

    async def stop(self) -> None:
        """Close the connection and wait (briefly) until its socket is really closed."""
        self._stopping = True
        connection = self._connection
        if connection is not None and not connection.is_closed:
            if not connection.is_closing:
                with contextlib.suppress(AMQPError):  # e.g. still opening
                    connection.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closed.wait(), 5)
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
        self._fail_pending(BrokerUnavailable("gateway stopping"))

    async def call(
        self,
        service: str,
        method: str,
        kwargs: Mapping[str, Any] | None = None,
        *,
        actor: Actor | None = None,
        request_id: str | None = None,
        headers: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> Any:
        timeout = self.default_timeout if timeout is None else timeout
        channel = self._channel
        if not self._ready.is_set() or channel is None or not channel.is_open:
            raise BrokerUnavailable("message broker unavailable")
        correlation_id = str(uuid.uuid4())
        body = json.dumps({"args": [], "kwargs": dict(kwargs or {})}, ensure_ascii=False)
        actor_header = self.keys.actor_header(actor, request_id) if actor is not None else None
        signed = {
            **(headers or {}),
            # sealed for this operation, message, body and actor only
            "caller": self.keys.seal_call(
                f"{service}.{method}", correlation_id, json.loads(body), actor_header
            ),
            "request_id": request_id,
            "actor": actor_header,
        }
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[correlation_id] = future
        properties = BasicProperties(
            content_type="application/json",
            content_encoding="utf-8",
            correlation_id=correlation_id,
            reply_to=self._reply_key,
            headers={f"nameko.{k}": v for k, v in signed.items() if v is not None},
            expiration=str(max(1, int(timeout * 1000))),
        )
        try:
            channel.basic_publish(
                RPC_EXCHANGE, f"{service}.{method}", body.encode(), properties, mandatory=True
            )
            return await asyncio.wait_for(future, timeout)
        except TimeoutError as exc:
            raise RpcTimeout(f"{service}.{method} did not answer within {timeout:g} s") from exc
        except AMQPError as exc:
            raise BrokerUnavailable("message broker unavailable") from exc
        finally:
            self._pending.pop(correlation_id, None)

    # connection life cycle

    async def _run(self) -> None:
        backoff = 0.2
        while not self._stopping:
            try:
                await self._connect()
                backoff = 0.2
                log.info("connected to the message broker")
                await self._lost.wait()
            except (AMQPError, OSError) as exc:
                log.warning("message broker connection failed: %s", exc)
            finally:
                self._ready.clear()
                self._fail_pending(BrokerUnavailable("message broker connection lost"))
                self._close_quietly()
            if not self._stopping:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff)

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        self._lost = asyncio.Event()
        self._closed = closed = asyncio.Event()
        opened: asyncio.Future[AsyncioConnection] = loop.create_future()

        def on_open(connection: AsyncioConnection) -> None:
            if not opened.done():
                opened.set_result(connection)

        def on_open_error(_connection: AsyncioConnection, error: BaseException) -> None:
            if not opened.done():
                opened.set_exception(AMQPError(str(error)))

        def on_close(_connection: AsyncioConnection, reason: BaseException) -> None:
            if not opened.done():
                opened.set_exception(AMQPError(str(reason)))
            closed.set()
            self._lost.set()

        parameters = pika.URLParameters(self.amqp_uri)
        parameters.connection_attempts = 1
        parameters.socket_timeout = 3
        parameters.heartbeat = 15
        parameters.client_properties = {"connection_name": "gateway-rpc"}
        self._connection = AsyncioConnection(
            parameters, on_open, on_open_error, on_close, custom_ioloop=loop
        )
        connection = await asyncio.wait_for(opened, 10)
        channel = await self._callback(lambda cb: connection.channel(on_open_callback=cb))
        channel.add_on_close_callback(lambda _ch, _reason: self._lost.set())
        channel.add_on_return_callback(self._on_return)
        await self._callback(
            lambda cb: channel.exchange_declare(
                RPC_EXCHANGE, exchange_type="topic", durable=True, callback=cb
            )
        )
        reply_key = str(uuid.uuid4())
        queue = f"rpc.reply-gateway-{reply_key}"
        await self._callback(
            lambda cb: channel.queue_declare(queue, exclusive=True, auto_delete=True, callback=cb)
        )
        await self._callback(
            lambda cb: channel.queue_bind(queue, RPC_EXCHANGE, routing_key=reply_key, callback=cb)
        )
        await self._callback(
            lambda cb: channel.basic_consume(queue, self._on_reply, auto_ack=True, callback=cb)
        )
        self._channel = channel
        self._reply_key = reply_key
        self._ready.set()

    async def _callback(self, start: Any) -> Any:
        """Run a pika call that reports through a callback, as an awaitable."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        def done(result: Any) -> None:
            if not future.done():
                future.set_result(result)

        start(done)
        lost = asyncio.ensure_future(self._lost.wait())
        try:
            finished, _ = await asyncio.wait(
                {future, lost}, timeout=10, return_when="FIRST_COMPLETED"
            )
        finally:
            lost.cancel()
        if future not in finished:
            future.cancel()
            raise AMQPError("broker did not answer during connection set-up")
        return future.result()

    def _close_quietly(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and not (connection.is_closed or connection.is_closing):
            with contextlib.suppress(Exception):
                connection.close()

    def _fail_pending(self, error: Exception) -> None:
        pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(error)

    # deliveries

    def _on_reply(
        self, _channel: Channel, _method: Basic.Deliver, properties: BasicProperties, body: bytes
    ) -> None:
        future = self._pending.get(properties.correlation_id or "")
        if future is None or future.done():
            return  # a reply that came after its timeout
        try:
            payload = json.loads(body)
        except ValueError:
            future.set_exception(RemoteError({"exc_type": "BadReply", "value": "unreadable reply"}))
            return
        error = payload.get("error")
        if error:
            future.set_exception(RemoteError(error))
        else:
            future.set_result(payload.get("result"))

    def _on_return(
        self, _channel: Channel, method: Basic.Return, properties: BasicProperties, _body: bytes
    ) -> None:
        future = self._pending.get(properties.correlation_id or "")
        if future is not None and not future.done():
            service = (method.routing_key or "").split(".")[0]
            future.set_exception(BrokerUnavailable(f"service {service!r} is not running"))
