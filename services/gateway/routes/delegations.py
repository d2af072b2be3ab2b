"""Proxies (代办): who may act for me and for whom I act; what was done in my name."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from services.gateway.access import operation
from services.gateway.deps import BusDep, CurrentActor

router = APIRouter(prefix="/v1/me", tags=["proxies"])


class ProxyCreate(BaseModel):
    proxy_id_number: str = Field(min_length=1, max_length=32)
    proxy_name: str = Field(min_length=1, max_length=100)
    scopes: list[str] = Field(min_length=1, max_length=4)
    valid_until: str = Field(max_length=40)


@router.get(
    "/proxies",
    summary="My proxies and the people I act for",
    openapi_extra=operation("identity.list_my_delegations"),
)
async def list_proxies(_actor: CurrentActor, bus: BusDep) -> Any:
    return await bus.call("identity", "list_my_delegations")


@router.post(
    "/proxies",
    status_code=201,
    summary="Authorize a proxy for some scopes and a period",
    openapi_extra=operation("identity.authorize_proxy"),
)
async def authorize_proxy(body: ProxyCreate, _actor: CurrentActor, bus: BusDep) -> Any:
    return await bus.call("identity", "authorize_proxy", **body.model_dump())


@router.post(
    "/proxies/{delegation_id}/{answer}",
    summary="Accept or decline a request to act for someone (the person asked)",
    openapi_extra=operation("identity.answer_proxy_request"),
)
async def answer_proxy_request(
    delegation_id: str,
    answer: Literal["accept", "decline"],
    _actor: CurrentActor,
    bus: BusDep,
) -> Any:
    return await bus.call(
        "identity",
        "answer_proxy_request",
        delegation_id=delegation_id,
        accept=answer == "accept",
    )


@router.delete(
    "/proxies/{delegation_id}",
    summary="Revoke a proxy",
    openapi_extra=operation("identity.revoke_delegation"),
)
async def revoke_proxy(delegation_id: str, _actor: CurrentActor, bus: BusDep) -> Any:
    return await bus.call("identity", "revoke_delegation", delegation_id=delegation_id)


@router.get(
    "/activity",
    summary="What proxies and guardians did in my name",
    openapi_extra=operation("identity.my_activity"),
)
async def my_activity(
    _actor: CurrentActor, bus: BusDep, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> Any:
    return await bus.call("identity", "my_activity", limit=limit)
