"""Accounts: staff register accounts in their jurisdiction and read them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from services.common.codec import utcnow
from services.gateway import sessions
from services.gateway.access import operation
from services.gateway.deps import BusDep, CurrentActor, PageDep, StoreDep

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


class PasswordReset(BaseModel):
    new: str = Field(min_length=8, max_length=128)


@router.post(
    "/{account_id}/password",
    summary="Set a new password for an account (admin); its sessions end at once",
    openapi_extra=operation("identity.reset_password"),
)
async def reset_password(
    account_id: str, body: PasswordReset, actor: CurrentActor, bus: BusDep, store: StoreDep
) -> dict[str, Any]:
    result: dict[str, Any] = await bus.call(
        "identity", "reset_password", account_id=account_id, new=body.new
    )
    await sessions.end_all(store, account_id, utcnow(), actor.account_id)
    return result


@router.post(
    "/{account_id}/{action}",
    summary="Disable or enable an account; a disabled account's sessions end at once",
    openapi_extra=operation("identity.set_account_status"),
)
async def set_account_status(
    account_id: str,
    action: Literal["disable", "enable"],
    actor: CurrentActor,
    bus: BusDep,
    store: StoreDep,
) -> dict[str, Any]:
    status = "disabled" if action == "disable" else "active"
    result: dict[str, Any] = await bus.call(
        "identity", "set_account_status", account_id=account_id, status=status
    )
    if status == "disabled":
        await sessions.end_all(store, account_id, utcnow(), actor.account_id)
    return result
