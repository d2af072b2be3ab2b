"""RPC proxies that seal each call (:meth:`BusKeys.seal_call`): nameko's own, with the
caller header computed per message from the operation, the correlation id, the body and
the actor it carries, instead of one header for every call.

``SealedRpcProxy("identity")`` is what a service declares to call another; for a process
outside nameko's containers (the health probe, tests) :func:`sealed_cluster_proxy`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from nameko.amqp.publish import UndeliverableMessage
from nameko.exceptions import UnknownService
from nameko.rpc import MethodProxy, RpcProxy, RpcReply, ServiceProxy, get_rpc_exchange
from nameko.standalone.rpc import ClusterProxy, ClusterRpcProxy

from services.common.bus_identity import BusKeys

CALLER = "nameko.caller"
ACTOR = "nameko.actor"


class SealedMethodProxy(MethodProxy):  # type: ignore[misc]
    def __init__(self, *args: Any, keys: BusKeys, **options: Any) -> None:
        super().__init__(*args, **options)
        self.keys = keys

    def _call(self, *args: Any, **kwargs: Any) -> RpcReply:
        msg = {"args": args, "kwargs": kwargs}
        exchange = get_rpc_exchange(self.container.config)
        routing_key = f"{self.service_name}.{self.method_name}"
        correlation_id = str(uuid.uuid4())
        headers = self.get_message_headers(self.worker_ctx)
        as_read = json.loads(json.dumps(msg))  # the body as the receiver will decode it
        headers[CALLER] = self.keys.seal_call(
            routing_key, correlation_id, as_read, headers.get(ACTOR)
        )
        reply_event = self.reply_listener.get_reply_event(correlation_id)
        try:
            self.publisher.publish(
                msg,
                exchange=exchange,
                routing_key=routing_key,
                mandatory=True,
                reply_to=self.reply_listener.routing_key,
                correlation_id=correlation_id,
                extra_headers=headers,
            )
        except UndeliverableMessage as exc:
            raise UnknownService(self.service_name) from exc
        return RpcReply(reply_event)


class SealedServiceProxy(ServiceProxy):  # type: ignore[misc]
    def __init__(self, *args: Any, keys: BusKeys, **options: Any) -> None:
        super().__init__(*args, **options)
        self.keys = keys

    def __getattr__(self, name: str) -> SealedMethodProxy:
        return SealedMethodProxy(
            self.worker_ctx,
            self.service_name,
            name,
            self.reply_listener,
            keys=self.keys,
            **self.options,
        )


class SealedRpcProxy(RpcProxy):  # type: ignore[misc]
    """A service's proxy to another service; each call sealed with this service's key (or
    ``signer``'s, for a process that speaks as another, such as a second gateway)."""

    def __init__(self, target_service: str, signer: str | None = None, **options: Any) -> None:
        super().__init__(target_service, **options)
        self.signer = signer

    def setup(self) -> None:
        super().setup()
        signer = self.signer or self.container.service_name
        self.keys = BusKeys.from_config(self.container.config, signer)

    def get_dependency(self, worker_ctx: Any) -> SealedServiceProxy:
        return SealedServiceProxy(
            worker_ctx,
            self.target_service,
            self.rpc_reply_listener,
            keys=self.keys,
            **self.options,
        )


class _SealedCluster(ClusterProxy):  # type: ignore[misc]
    def __init__(self, worker_ctx: Any, reply_listener: Any, keys: BusKeys) -> None:
        super().__init__(worker_ctx, reply_listener)
        self._keys = keys

    def __getattr__(self, name: str) -> SealedServiceProxy:
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._proxies:
            self._proxies[name] = SealedServiceProxy(
                self._worker_ctx, name, self._reply_listener, keys=self._keys
            )
        found: SealedServiceProxy = self._proxies[name]
        return found


def sealed_cluster_proxy(
    config: Mapping[str, Any],
    keys: BusKeys,
    context_data: Mapping[str, Any] | None = None,
    timeout: float | None = 30,
) -> ClusterRpcProxy:
    """nameko's standalone proxy, each call sealed with ``keys`` (``context_data`` may carry
    an actor header the gateway signed)."""
    proxy = ClusterRpcProxy(dict(config), context_data=dict(context_data or {}), timeout=timeout)
    proxy._proxy = _SealedCluster(proxy._worker_ctx, proxy._reply_listener, keys)
    return proxy
