"""Accounts: staff register accounts in their jurisdiction and read them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from services.gateway.access import operation
from services.gateway.deps import BusDep, CurrentActor, PageDep

router = APIRouter(prefix="/v1/accounts", tags=["accounts"])


class AccountCreate(BaseModel):
    username: str = Field(min_length=3, max_length=64)
    password: str = Field(min_length=8, max_length=128)
    roles: list[str] = Field(min_length=1, max_length=7)
    org_path: str | None = Field(default=None, max_length=200)
    display_name: str | None = Field(default=None, max_length=100)
    subject_id: str | None = Field(default=None, max_length=64)
    scenes: list[str] | None = Field(default=None, max_length=10)


@router.post(
    "",
    status_code=201,
    summary="Register an account in your jurisdiction",
    openapi_extra=operation("identity.create_account"),
)
async def create_account(body: AccountCreate, _actor: CurrentActor, bus: BusDep) -> Any:
    return await bus.call("identity", "create_account", **body.model_dump())


@router.get(
    "", summary="Accounts in your jurisdiction", openapi_extra=operation("identity.list_accounts")
)
async def list_accounts(
    _actor: CurrentActor,
    bus: BusDep,
    page: PageDep,
    org_path: Annotated[str | None, Query(max_length=200)] = None,
) -> Any:
    return await bus.call(
        "identity", "list_accounts", org_path=org_path, limit=page.limit, offset=page.offset
    )


@router.get(
    "/{account_id}",
    summary="One account (404 outside your jurisdiction)",
    openapi_extra=operation("identity.get_account"),
)
async def get_account(account_id: str, _actor: CurrentActor, bus: BusDep) -> dict[str, Any]:
    result: dict[str, Any] = await bus.call("identity", "get_account", account_id=account_id)
    return result
