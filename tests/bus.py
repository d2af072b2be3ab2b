"""Calling services on the real bus as the gateway does: every message carries the caller's
signed identity and, for a user, the user the gateway vouches for (services refuse anything
else; see services/common/bus_identity.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nameko.standalone.rpc import ClusterRpcProxy

from services.common.access import AccessTable, Guard, acting_as
from services.common.actor import Actor
from services.common.bus_identity import GATEWAY, BusKeys


def signed_context(config: Mapping[str, Any], actor: Actor | None) -> dict[str, str]:
    keys = BusKeys.from_config(config, GATEWAY)
    context = {"caller": keys.caller_header()}
    if actor is not None:
        context["actor"] = keys.actor_header(actor, None)
    return context


def gateway_proxy(
    config: Mapping[str, Any], actor: Actor | None, timeout: float = 30
) -> ClusterRpcProxy:
    """A proxy that calls as the gateway would for ``actor`` (a fresh one per use: the signed
    actor lives a minute)."""
    return ClusterRpcProxy(
        dict(config), context_data=signed_context(config, actor), timeout=timeout
    )


def service_proxy(config: Mapping[str, Any], service: str, timeout: float = 30) -> ClusterRpcProxy:
    """A proxy that calls as ``service`` does (for bus-only operations)."""
    keys = BusKeys.from_config(config, service)
    return ClusterRpcProxy(
        dict(config), context_data={"caller": keys.caller_header()}, timeout=timeout
    )


def as_actor(table: AccessTable, operation: str, actor: Actor) -> Guard:
    """The guard a domain function gets when ``actor`` performs ``operation``."""
    return acting_as(table, operation, actor)
