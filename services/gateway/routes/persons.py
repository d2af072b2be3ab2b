"""Persons: staff register them in their jurisdiction, freeze them, issue printed codes and
appoint guardians. ID numbers go in once and never come back in clear."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from services.gateway import qr
from services.gateway.access import operation
from services.gateway.deps import BusDep, CurrentActor, PageDep

router = APIRouter(prefix="/v1/persons", tags=["persons"])


class Login(BaseModel):
    username: str = Field(min_length=3, max_length=64)
    password: str = Field(min_length=8, max_length=128)


class PersonCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    id_number: str = Field(min_length=1, max_length=32, description="居民身份证号, 18 characters")
    org_path: str = Field(max_length=200, description="org unit of residence")
    phone: str | None = Field(default=None, max_length=20)
    birth_date: str | None = Field(default=None, max_length=10, description="cross-checked")
    sex: Literal["male", "female"] | None = None
    concession: Literal["none", "elderly", "disabled", "student", "veteran"] = "none"
    medical_insurance: bool = False
    account: Login | None = Field(default=None, description="a citizen login for the person")


class Reason(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


class GuardianCreate(BaseModel):
    guardian_id: str = Field(max_length=64)
    reason: str = Field(min_length=1, max_length=500)
    scopes: list[str] | None = Field(default=None, max_length=4)
    valid_until: str | None = Field(default=None, max_length=40)


@router.post(
    "",
    status_code=201,
    summary="Register a person in your jurisdiction",
    openapi_extra=operation("identity.register_person"),
)
async def register_person(body: PersonCreate, _actor: CurrentActor, bus: BusDep) -> Any:
    return await bus.call("identity", "register_person", **body.model_dump(exclude_none=True))


@router.get(
    "", summary="Persons in your jurisdiction", openapi_extra=operation("identity.list_persons")
)
async def list_persons(
    _actor: CurrentActor,
    bus: BusDep,
    page: PageDep,
    org_path: Annotated[str | None, Query(max_length=200)] = None,
) -> Any:
    return await bus.call(
        "identity", "list_persons", org_path=org_path, limit=page.limit, offset=page.offset
    )


@router.get(
    "/{person_id}", summary="One person (masked)", openapi_extra=operation("identity.get_subject")
)
async def get_person(person_id: str, _actor: CurrentActor, bus: BusDep) -> Any:
    return await bus.call("identity", "get_subject", subject_id=person_id)


@router.post(
    "/{person_id}/freeze",
    summary="Freeze a person's codes, with a reason",
    openapi_extra=operation("identity.freeze_subject"),
)
async def freeze_person(person_id: str, body: Reason, _actor: CurrentActor, bus: BusDep) -> Any:
    return await bus.call("identity", "freeze_subject", subject_id=person_id, reason=body.reason)


@router.post(
    "/{person_id}/unfreeze",
    summary="Lift a staff freeze",
    openapi_extra=operation("identity.unfreeze_subject"),
)
async def unfreeze_person(person_id: str, _actor: CurrentActor, bus: BusDep) -> Any:
    return await bus.call("identity", "unfreeze_subject", subject_id=person_id)


@router.post(
    "/{person_id}/printed-code",
    status_code=201,
    summary="Issue a printed code (物理码); earlier cards stop working",
    openapi_extra=operation("identity.issue_printed_code"),
)
async def issue_printed_code(
    person_id: str, _actor: CurrentActor, bus: BusDep, response: Response
) -> Any:
    response.headers["Cache-Control"] = "no-store"  # the code itself is on the card
    return await bus.call("identity", "issue_printed_code", person_id=person_id)


@router.get(
    "/{person_id}/printed-code/card.png",
    summary="The printable card",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
    openapi_extra=operation("identity.get_printed_code"),
)
async def printed_card(person_id: str, _actor: CurrentActor, bus: BusDep) -> Response:
    card = await bus.call("identity", "get_printed_code", person_id=person_id)
    image = qr.printed_card(card)
    return Response(image, media_type="image/png", headers={"Cache-Control": "no-store"})


@router.post(
    "/{person_id}/guardians",
    status_code=201,
    summary="Appoint a guardian",
    openapi_extra=operation("identity.appoint_guardian"),
)
async def appoint_guardian(
    person_id: str, body: GuardianCreate, _actor: CurrentActor, bus: BusDep
) -> Any:
    return await bus.call(
        "identity", "appoint_guardian", person_id=person_id, **body.model_dump(exclude_none=True)
    )


@router.delete(
    "/{person_id}/guardians/{delegation_id}",
    summary="End a guardianship",
    openapi_extra=operation("identity.revoke_delegation"),
)
async def end_guardianship(
    person_id: str, delegation_id: str, _actor: CurrentActor, bus: BusDep
) -> Any:
    return await bus.call(
        "identity", "revoke_delegation", delegation_id=delegation_id, guardianship_of=person_id
    )
