"""Request dependencies: who is calling, what they may do, and the bus to ask services on.

``Bus.call`` sends the caller's actor and the request id along in ``nameko.*`` headers, so
every service re-checks roles and jurisdiction itself and every log line of the request
carries the same id.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Annotated, Any

from fastapi import Depends, Header, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.common.actor import Actor
from services.common.codec import utcnow
from services.common.errors import Unauthenticated
from services.common.logs import request_id_var
from services.gateway import metrics, sessions
from services.gateway.auth import actor_from_claims, verify_access_token
from services.gateway.keys import KeyRing
from services.gateway.rpc import RemoteError, RpcClient
from services.gateway.settings import Settings
from services.gateway.store import GatewayStore

bearer = HTTPBearer(auto_error=False, description="An access token from POST /v1/auth/token")


def get_settings(request: Request) -> Settings:
    settings: Settings = request.state.settings
    return settings


def get_keyring(request: Request) -> KeyRing:
    ring: KeyRing = request.state.keyring
    return ring


def get_store(request: Request) -> GatewayStore:
    store: GatewayStore = request.state.store
    return store


SettingsDep = Annotated[Settings, Depends(get_settings)]
KeyRingDep = Annotated[KeyRing, Depends(get_keyring)]
StoreDep = Annotated[GatewayStore, Depends(get_store)]


async def current_actor(
    request: Request,
    ring: KeyRingDep,
    settings: SettingsDep,
    store: StoreDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    on_behalf_of: Annotated[
        str | None,
        Header(
            alias="X-On-Behalf-Of", max_length=64, description="act as a proxy for this subject"
        ),
    ] = None,
) -> Actor:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("an access token is required")
    claims = verify_access_token(credentials.credentials, ring, settings)
    await sessions.require_live(store, claims.get("sid"), claims["sub"], utcnow())
    actor = actor_from_claims(claims)
    if on_behalf_of:
        actor = replace(actor, on_behalf_of=on_behalf_of)
    request.state.actor_id = actor.account_id
    request.state.client_id = actor.client_id
    return actor


CurrentActor = Annotated[Actor, Depends(current_actor)]


@dataclass
class Bus:
    """The RPC client bound to one request's actor and id."""

    rpc: RpcClient
    actor: Actor | None
    timeout: float

    async def call(self, service: str, method: str, **kwargs: Any) -> Any:
        request_id = request_id_var.get()
        headers = {"call_id_stack": [f"gateway.http.{request_id}"]}
        started, outcome = time.monotonic(), "ok"
        try:
            return await self.rpc.call(
                service,
                method,
                kwargs,
                actor=self.actor,
                request_id=request_id,
                headers=headers,
                timeout=self.timeout,
            )
        except Exception as exc:
            outcome = type(exc).__name__ if not isinstance(exc, RemoteError) else exc.exc_type
            raise
        finally:
            metrics.RPC_SECONDS.labels(service, method, outcome).observe(time.monotonic() - started)


def _bus_for(actor: Actor | None, request: Request, settings: Settings) -> Bus:
    return Bus(rpc=request.state.rpc, actor=actor, timeout=settings.RPC_TIMEOUT)


def get_bus(request: Request, actor: CurrentActor, settings: SettingsDep) -> Bus:
    return _bus_for(actor, request, settings)


def get_anonymous_bus(request: Request, settings: SettingsDep) -> Bus:
    return _bus_for(None, request, settings)


BusDep = Annotated[Bus, Depends(get_bus)]


@dataclass(frozen=True)
class Page:
    limit: int
    offset: int


def get_page(
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Page:
    return Page(limit, offset)


PageDep = Annotated[Page, Depends(get_page)]
AnonymousBus = Annotated[Bus, Depends(get_anonymous_bus)]
