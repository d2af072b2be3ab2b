"""Policies as data, subject facts, explained matches and the inbox of pushed policies
(政策速配 / 免申即享)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Request
from pydantic import BaseModel, Field

from services.common.errors import InvalidInput
from services.gateway.deps import BusDep, CurrentActor, StaffActor

router = APIRouter(tags=["policies"])
MAX_BULK_BYTES = 1024 * 1024


class FactsPut(BaseModel):
    facts: dict[str, Any] = Field(description="fact name → value")
    valid_until: str | None = Field(default=None, max_length=40)


@router.post("/v1/policies", status_code=201, summary="Author a policy (a draft) as JSON")
async def create_policy(
    _actor: StaffActor, bus: BusDep, policy: Annotated[dict[str, Any], Body()]
) -> Any:
    return await bus.call("policy", "create_policy", policy=policy)


@router.get("/v1/policies", summary="Policies, by status")
async def list_policies(
    _actor: CurrentActor,
    bus: BusDep,
    status: Literal["draft", "published", "suspended", "retired"] | None = None,
) -> Any:
    return await bus.call("policy", "list_policies", status=status)


@router.get("/v1/policies/{policy_id}", summary="One policy with its rules")
async def get_policy(policy_id: str, _actor: CurrentActor, bus: BusDep) -> Any:
    return await bus.call("policy", "get_policy", policy_id=policy_id)


@router.put("/v1/policies/{policy_id}", summary="Edit a draft")
async def edit_policy(
    policy_id: str, _actor: StaffActor, bus: BusDep, policy: Annotated[dict[str, Any], Body()]
) -> Any:
    return await bus.call("policy", "edit_policy", policy_id=policy_id, policy=policy)


@router.post("/v1/policies/{policy_id}/simulate", summary="Simulate a policy: no side effects")
async def simulate_policy(policy_id: str, _actor: StaffActor, bus: BusDep) -> Any:
    return await bus.call("policy", "simulate_policy", policy_id=policy_id)


@router.post(
    "/v1/policies/{policy_id}/{action}",
    summary="Publish (matches every subject), suspend, resume or retire",
)
async def change_policy_status(
    policy_id: str,
    action: Literal["publish", "suspend", "resume", "retire"],
    _actor: StaffActor,
    bus: BusDep,
) -> Any:
    return await bus.call("policy", "change_policy_status", policy_id=policy_id, action=action)


@router.put("/v1/subjects/{subject}/facts", summary="Set facts about a subject (feeds, staff)")
async def put_facts(subject: str, body: FactsPut, _actor: CurrentActor, bus: BusDep) -> Any:
    return await bus.call(
        "policy", "put_facts", subject=subject, values=body.facts, valid_until=body.valid_until
    )


@router.get("/v1/subjects/{subject}/facts", summary="A subject's facts with their sources")
async def subject_facts(subject: str, _actor: StaffActor, bus: BusDep) -> Any:
    return await bus.call("policy", "subject_facts", subject=subject)


@router.post(
    "/v1/facts:bulk",
    summary="NDJSON facts, idempotent per (source, batch_id); bad lines reported by number",
    openapi_extra={
        "requestBody": {"content": {"application/x-ndjson": {"schema": {"type": "string"}}}}
    },
)
async def bulk_facts(
    request: Request,
    _actor: CurrentActor,
    bus: BusDep,
    batch_id: Annotated[str, Query(min_length=1, max_length=64)],
) -> Any:
    body = await request.body()
    if len(body) > MAX_BULK_BYTES:
        raise InvalidInput("at most 1 MiB per batch", field="body")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput("UTF-8 NDJSON", field="body") from exc
    return await bus.call("policy", "bulk_facts", batch_id=batch_id, ndjson=text)


@router.get("/v1/me/matches", summary="Every published policy for me, each check explained")
async def my_matches(_actor: CurrentActor, bus: BusDep) -> Any:
    return await bus.call("policy", "my_matches")


@router.get("/v1/subjects/{subject}/matches", summary="A subject's matches (staff)")
async def subject_matches(subject: str, _actor: StaffActor, bus: BusDep) -> Any:
    return await bus.call("policy", "subject_matches", subject=subject)


@router.get("/v1/me/inbox", summary="Policies pushed to me (and those I act for)")
async def my_inbox(_actor: CurrentActor, bus: BusDep) -> Any:
    return await bus.call("policy", "my_inbox")
