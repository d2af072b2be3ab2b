"""Policies as data, subject facts, explained matches and the inbox of pushed policies
(政策速配 / 免申即享)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Request
from pydantic import BaseModel, Field

from services.common.errors import InvalidInput
from services.gateway.access import operation
from services.gateway.deps import AnonymousBus, BusDep, CurrentActor

router = APIRouter(tags=["policies"])
MAX_BULK_BYTES = 1024 * 1024


class FactsPut(BaseModel):
    facts: dict[str, Any] = Field(description="fact name → value")
    valid_until: str | None = Field(default=None, max_length=40)


@router.post(
    "/v1/policies",
    status_code=201,
    summary="Author a policy (a draft) as JSON",
    openapi_extra=operation("policy.create_policy"),
)
async def create_policy(
    _actor: CurrentActor, bus: BusDep, policy: Annotated[dict[str, Any], Body()]
) -> Any:
    return await bus.call("policy", "create_policy", policy=policy)


@router.get(
    "/v1/policies", summary="Policies, by status", openapi_extra=operation("policy.list_policies")
)
async def list_policies(
    _actor: CurrentActor,
    bus: BusDep,
    status: Literal["draft", "published", "suspended", "retired"] | None = None,
) -> Any:
    return await bus.call("policy", "list_policies", status=status)


@router.get(
    "/v1/policies/{policy_id}",
    summary="One policy with its rules",
    openapi_extra=operation("policy.get_policy"),
)
async def get_policy(policy_id: str, _actor: CurrentActor, bus: BusDep) -> Any:
    return await bus.call("policy", "get_policy", policy_id=policy_id)


@router.put(
    "/v1/policies/{policy_id}",
    summary="Edit a draft",
    openapi_extra=operation("policy.edit_policy"),
)
async def edit_policy(
    policy_id: str, _actor: CurrentActor, bus: BusDep, policy: Annotated[dict[str, Any], Body()]
) -> Any:
    return await bus.call("policy", "edit_policy", policy_id=policy_id, policy=policy)


@router.post(
    "/v1/policies/{policy_id}/simulate",
    summary="Simulate a policy: no side effects",
    openapi_extra=operation("policy.simulate_policy"),
)
async def simulate_policy(policy_id: str, _actor: CurrentActor, bus: BusDep) -> Any:
    return await bus.call("policy", "simulate_policy", policy_id=policy_id)


class PayoutRun(BaseModel):
    period: str = Field(max_length=10, description="once | 2026-11 | 2026-Q4 | 2026, by policy")


@router.post(
    "/v1/policies/{policy_id}/payout-runs",
    summary="Pay every eligible subject for a period, exactly once, within the budget",
    openapi_extra=operation("policy.run_payouts"),
)
async def run_payouts(policy_id: str, body: PayoutRun, _actor: CurrentActor, bus: BusDep) -> Any:
    return await bus.call("policy", "run_payouts", policy_id=policy_id, period=body.period)


@router.get(
    "/v1/policies/{policy_id}/ledger",
    summary="Payout totals by state and org unit",
    openapi_extra=operation("policy.policy_ledger"),
)
async def policy_ledger(policy_id: str, _actor: CurrentActor, bus: BusDep) -> Any:
    return await bus.call("policy", "policy_ledger", policy_id=policy_id)


@router.get(
    "/v1/me/payouts",
    summary="My payouts (and those of whom I act for)",
    openapi_extra=operation("policy.my_payouts"),
)
async def my_payouts(_actor: CurrentActor, bus: BusDep) -> Any:
    return await bus.call("policy", "my_payouts")


@router.post(
    "/v1/me/payouts/{payout_id}/{answer}",
    summary="Confirm (一键确认) or decline",
    openapi_extra=operation("policy.respond_to_payout"),
)
async def respond_to_payout(
    payout_id: str, answer: Literal["confirm", "decline"], _actor: CurrentActor, bus: BusDep
) -> Any:
    return await bus.call(
        "policy", "respond_to_payout", payout_id=payout_id, accept=answer == "confirm"
    )


class Dispute(BaseModel):
    fact: str = Field(max_length=40)
    proposed: Any = Field(description="the value the subject says is right")
    evidence: str = Field(min_length=1, max_length=2000)
    subject: str | None = Field(default=None, max_length=64, description="default: me")


class Decision(BaseModel):
    reason: str | None = Field(default=None, max_length=500)


@router.post(
    "/v1/me/fact-corrections",
    status_code=201,
    summary="Dispute a fact (自主校正)",
    openapi_extra=operation("policy.dispute_fact"),
)
async def dispute_fact(body: Dispute, _actor: CurrentActor, bus: BusDep) -> Any:
    return await bus.call("policy", "dispute_fact", **body.model_dump())


@router.get(
    "/v1/me/fact-corrections",
    summary="My disputed facts and their outcome",
    openapi_extra=operation("policy.my_fact_corrections"),
)
async def my_fact_corrections(_actor: CurrentActor, bus: BusDep) -> Any:
    return await bus.call("policy", "my_fact_corrections")


@router.post(
    "/v1/fact-corrections/{correction_id}/{decision}",
    summary="Accept or reject",
    openapi_extra=operation("policy.decide_fact_correction"),
)
async def decide_fact_correction(
    correction_id: str,
    decision: Literal["accept", "reject"],
    body: Decision,
    _actor: CurrentActor,
    bus: BusDep,
) -> Any:
    return await bus.call(
        "policy",
        "decide_fact_correction",
        correction_id=correction_id,
        accept=decision == "accept",
        reason=body.reason,
    )


@router.get(
    "/v1/policies/{policy_id}/payouts",
    summary="Who was and was not paid, each with its decision record (department, area staff)",
    openapi_extra=operation("policy.policy_payouts"),
)
async def policy_payouts(
    policy_id: str,
    _actor: CurrentActor,
    bus: BusDep,
    status: Annotated[str | None, Query(max_length=20)] = None,
    period: Annotated[str | None, Query(max_length=10)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Any:
    return await bus.call(
        "policy",
        "policy_payouts",
        policy_id=policy_id,
        status=status,
        period=period,
        limit=limit,
        offset=offset,
    )


@router.get(
    "/v1/policies/{policy_id}/unreceived",
    summary="Eligible but not receiving (应享未享)",
    openapi_extra=operation("policy.unreceived"),
)
async def unreceived(policy_id: str, _actor: CurrentActor, bus: BusDep) -> Any:
    return await bus.call("policy", "unreceived", policy_id=policy_id)


@router.post(
    "/v1/policies/{policy_id}/unreceived/tasks",
    summary="Turn the eligible-but-not-receiving into supervision tasks",
    openapi_extra=operation("policy.open_unreceived_tasks"),
)
async def open_unreceived_tasks(policy_id: str, _actor: CurrentActor, bus: BusDep) -> Any:
    return await bus.call("policy", "open_unreceived_tasks", policy_id=policy_id)


@router.post(
    "/v1/policies/{policy_id}/{action}",
    summary="Publish (matches every subject), suspend, resume or retire",
    openapi_extra=operation("policy.change_policy_status"),
)
async def change_policy_status(
    policy_id: str,
    action: Literal["publish", "suspend", "resume", "retire"],
    _actor: CurrentActor,
    bus: BusDep,
) -> Any:
    return await bus.call("policy", "change_policy_status", policy_id=policy_id, action=action)


class FactKindDeclare(BaseModel):
    name: str = Field(min_length=1, max_length=40, description="lowercase letters, digits, _")
    label: str = Field(min_length=1, max_length=50, description="what people read (中文)")
    type: Literal["money", "integer", "number", "boolean", "text", "texts", "date"]
    minimum: float | None = Field(default=None, description="numbers: the least value")
    maximum: float | None = Field(default=None, description="numbers: the greatest value")
    values: list[str] | None = Field(default=None, max_length=100, description="texts allowed")


@router.get(
    "/v1/fact-kinds",
    summary="The catalogue of fact kinds: type, source, range (what policies may read)",
    openapi_extra=operation("policy.list_fact_kinds"),
)
async def list_fact_kinds(_actor: CurrentActor, bus: BusDep) -> Any:
    return await bus.call("policy", "list_fact_kinds")


@router.post(
    "/v1/fact-kinds",
    status_code=201,
    summary="Declare a feed fact kind (each name once, owned by one's unit)",
    openapi_extra=operation("policy.declare_fact_kind"),
)
async def declare_fact_kind(body: FactKindDeclare, _actor: CurrentActor, bus: BusDep) -> Any:
    return await bus.call("policy", "declare_fact_kind", kind=body.model_dump(exclude_none=True))


@router.put(
    "/v1/subjects/{subject}/facts",
    summary="Set facts about a subject (feeds, staff)",
    openapi_extra=operation("policy.put_facts"),
)
async def put_facts(subject: str, body: FactsPut, _actor: CurrentActor, bus: BusDep) -> Any:
    return await bus.call(
        "policy", "put_facts", subject=subject, values=body.facts, valid_until=body.valid_until
    )


@router.get(
    "/v1/subjects/{subject}/facts",
    summary="A subject's facts with their sources",
    openapi_extra=operation("policy.subject_facts"),
)
async def subject_facts(subject: str, _actor: CurrentActor, bus: BusDep) -> Any:
    return await bus.call("policy", "subject_facts", subject=subject)


@router.post(
    "/v1/facts:bulk",
    summary="NDJSON facts, idempotent per (source, batch_id); bad lines reported by number",
    openapi_extra=operation(
        "policy.bulk_facts",
        **{"requestBody": {"content": {"application/x-ndjson": {"schema": {"type": "string"}}}}},
    ),
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


@router.get(
    "/v1/me/matches",
    summary="Every published policy for me, each check explained",
    openapi_extra=operation("policy.my_matches"),
)
async def my_matches(_actor: CurrentActor, bus: BusDep) -> Any:
    return await bus.call("policy", "my_matches")


@router.get(
    "/v1/subjects/{subject}/matches",
    summary="A subject's matches (staff)",
    openapi_extra=operation("policy.subject_matches"),
)
async def subject_matches(subject: str, _actor: CurrentActor, bus: BusDep) -> Any:
    return await bus.call("policy", "subject_matches", subject=subject)


@router.get(
    "/v1/me/inbox",
    summary="Policies pushed to me (and those I act for)",
    openapi_extra=operation("policy.my_inbox"),
)
async def my_inbox(_actor: CurrentActor, bus: BusDep) -> Any:
    return await bus.call("policy", "my_inbox")


@router.post(
    "/v1/payment-callbacks",
    summary="The payment partner's signed word on a payout (no bearer token: the policy "
    "service verifies the X-Signature HMAC over the raw body)",
    status_code=200,
    openapi_extra=operation("policy.payment_callback"),
)
async def payment_callback(request: Request, bus: AnonymousBus) -> Any:
    body = await request.body()
    try:
        text = body.decode()
    except UnicodeDecodeError as exc:
        raise InvalidInput("a UTF-8 JSON body", field="body") from exc
    signature = request.headers.get("X-Signature", "")
    return await bus.call("policy", "payment_callback", body=text, signature=signature)
