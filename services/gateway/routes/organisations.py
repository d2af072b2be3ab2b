"""Organisations (一企一码): staff register them; their operators show the enterprise code."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from services.gateway import qr
from services.gateway.access import operation
from services.gateway.deps import BusDep, CurrentActor

router = APIRouter(tags=["organisations"])


class OrganisationCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    credit_code: str = Field(min_length=1, max_length=32, description="统一社会信用代码")
    org_path: str = Field(max_length=200, description="registered org unit")
    legal_representative: str | None = Field(default=None, max_length=64, description="person id")


class OperatorCreate(BaseModel):
    account_id: str = Field(max_length=64)
    role: Literal["legal_representative", "operator"]


class Reason(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


@router.post(
    "/v1/organisations",
    status_code=201,
    summary="Register an organisation",
    openapi_extra=operation("identity.register_organisation"),
)
async def register_organisation(body: OrganisationCreate, _actor: CurrentActor, bus: BusDep) -> Any:
    return await bus.call("identity", "register_organisation", **body.model_dump(exclude_none=True))


@router.get(
    "/v1/organisations/{organisation_id}",
    summary="One organisation (masked)",
    openapi_extra=operation("identity.get_subject"),
)
async def get_organisation(organisation_id: str, _actor: CurrentActor, bus: BusDep) -> Any:
    return await bus.call("identity", "get_subject", subject_id=organisation_id)


@router.post(
    "/v1/organisations/{organisation_id}/operators",
    status_code=201,
    summary="Link an enterprise account as operator or legal representative",
    openapi_extra=operation("identity.add_operator"),
)
async def add_operator(
    organisation_id: str, body: OperatorCreate, _actor: CurrentActor, bus: BusDep
) -> Any:
    return await bus.call(
        "identity", "add_operator", organisation_id=organisation_id, **body.model_dump()
    )


@router.post(
    "/v1/organisations/{organisation_id}/freeze",
    summary="Freeze, with a reason",
    openapi_extra=operation("identity.freeze_subject"),
)
async def freeze_organisation(
    organisation_id: str, body: Reason, _actor: CurrentActor, bus: BusDep
) -> Any:
    return await bus.call(
        "identity", "freeze_subject", subject_id=organisation_id, reason=body.reason
    )


@router.post(
    "/v1/organisations/{organisation_id}/unfreeze",
    summary="Lift a staff freeze",
    openapi_extra=operation("identity.unfreeze_subject"),
)
async def unfreeze_organisation(organisation_id: str, _actor: CurrentActor, bus: BusDep) -> Any:
    return await bus.call("identity", "unfreeze_subject", subject_id=organisation_id)


@router.post(
    "/v1/organisations/{organisation_id}/code",
    summary="A fresh enterprise code (operators of the organisation)",
    openapi_extra=operation("identity.issue_code"),
)
async def enterprise_code(organisation_id: str, _actor: CurrentActor, bus: BusDep) -> Any:
    code = await bus.call("identity", "issue_code", organisation_id=organisation_id)
    # A code is a bearer secret: never kept by a cache or the idempotency store.
    return JSONResponse(code, headers={"Cache-Control": "no-store"})


@router.get(
    "/v1/organisations/{organisation_id}/code.png",
    response_class=Response,
    summary="A fresh enterprise code as a PNG QR (operators)",
    responses={200: {"content": {"image/png": {}}}},
    openapi_extra=operation("identity.issue_code"),
)
async def enterprise_code_png(organisation_id: str, _actor: CurrentActor, bus: BusDep) -> Response:
    code = await bus.call("identity", "issue_code", organisation_id=organisation_id)
    headers = {"Cache-Control": "no-store", "X-Code-Expires-At": code["expires_at"]}
    return Response(qr.png(code["token"]), media_type="image/png", headers=headers)


@router.get(
    "/v1/me/organisations",
    summary="Organisations I operate",
    openapi_extra=operation("identity.my_organisations"),
)
async def my_organisations(_actor: CurrentActor, bus: BusDep) -> Any:
    return await bus.call("identity", "my_organisations")
