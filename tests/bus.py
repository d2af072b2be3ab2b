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
from services.common.sealed_rpc import sealed_cluster_proxy


def signed_context(config: Mapping[str, Any], actor: Actor | None) -> dict[str, str]:
    """The actor header the gateway would send for ``actor`` (none for the system)."""
    keys = BusKeys.from_config(config, GATEWAY)
    return {} if actor is None else {"actor": keys.actor_header(actor, None)}


def gateway_proxy(
    config: Mapping[str, Any], actor: Actor | None, timeout: float = 30
) -> ClusterRpcProxy:
    """A proxy that calls as the gateway would for ``actor``, each call sealed (a fresh one
    per use: the signed actor lives a minute)."""
    keys = BusKeys.from_config(config, GATEWAY)
    return sealed_cluster_proxy(config, keys, signed_context(config, actor), timeout)


def service_proxy(config: Mapping[str, Any], service: str, timeout: float = 30) -> ClusterRpcProxy:
    """A proxy that calls as ``service`` does (for bus-only operations)."""
    return sealed_cluster_proxy(config, BusKeys.from_config(config, service), timeout=timeout)


def as_actor(table: AccessTable, operation: str, actor: Actor) -> Guard:
    """The guard a domain function gets when ``actor`` performs ``operation``."""
    return acting_as(table, operation, actor)
