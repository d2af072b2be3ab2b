"""The jurisdiction tree (辖区)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from services.gateway.access import operation
from services.gateway.deps import BusDep, CurrentActor

router = APIRouter(prefix="/v1/org-units", tags=["org units"])

Kind = Literal["province", "city", "district", "street", "community", "department"]


class OrgUnitCreate(BaseModel):
    code: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1, max_length=100)
    kind: Kind
    parent: str | None = Field(default=None, max_length=200)


@router.post(
    "",
    status_code=201,
    summary="Add an org unit (supervisor or admin)",
    openapi_extra=operation("identity.create_org_unit"),
)
async def create_org_unit(body: OrgUnitCreate, _actor: CurrentActor, bus: BusDep) -> Any:
    return await bus.call("identity", "create_org_unit", **body.model_dump())


@router.get(
    "",
    summary="The subtree of your jurisdiction (or of root)",
    openapi_extra=operation("identity.list_org_units"),
)
async def list_org_units(
    _actor: CurrentActor, bus: BusDep, root: Annotated[str | None, Query(max_length=200)] = None
) -> Any:
    return await bus.call("identity", "list_org_units", root=root)


@router.get(
    ":search",
    summary="Units of my jurisdiction whose name or code contains the text (三好社区)",
    openapi_extra=operation("identity.find_org_units"),
)
async def find_org_units(
    _actor: CurrentActor,
    bus: BusDep,
    text: Annotated[str, Query(min_length=1, max_length=50)],
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
) -> Any:
    return await bus.call("identity", "find_org_units", text=text, limit=limit)


@router.get(
    "/{path:path}", summary="One org unit", openapi_extra=operation("identity.get_org_unit")
)
async def get_org_unit(path: str, _actor: CurrentActor, bus: BusDep) -> Any:
    return await bus.call("identity", "get_org_unit", path=path)
