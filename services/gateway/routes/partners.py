"""Partner clients (admin): register another department's system and list them."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from services.common.codec import utcnow
from services.common.crypto import derive_key
from services.common.errors import NotFound
from services.gateway import access, partners, sessions
from services.gateway.access import operation
from services.gateway.deps import CurrentActor, SettingsDep, StoreDep

router = APIRouter(prefix="/v1/partner-clients", tags=["partner clients"])


class PartnerClientCreate(BaseModel):
    client_id: str = Field(min_length=3, max_length=64)
    name: str = Field(min_length=1, max_length=100)
    scopes: list[str] = Field(default_factory=list, max_length=20)
    org_path: str | None = Field(default=None, max_length=200)
    webhook_url: str | None = Field(
        default=None, max_length=500, description="where task webhooks are POSTed (signed)"
    )


@router.post(
    "",
    status_code=201,
    summary="Register a partner client; the secret is shown once",
    openapi_extra=operation("gateway.create_partner_client"),
)
async def create_partner_client(
    body: PartnerClientCreate,
    actor: CurrentActor,
    store: StoreDep,
    settings: SettingsDep,
    response: Response,
) -> dict[str, Any]:
    access.require("create_partner_client", actor)
    response.headers["Cache-Control"] = "no-store"  # the secret is shown once, never kept
    hash_key = derive_key(settings.SECRET_KEY.get_secret_value(), "partner-secrets")
    return await partners.create_client(
        store,
        hash_key,
        body.client_id,
        body.name,
        body.scopes,
        body.org_path,
        webhook_url=body.webhook_url,
        seal_key=derive_key(settings.SECRET_KEY.get_secret_value(), "webhook-secrets"),
    )


@router.get("", summary="Partner clients", openapi_extra=operation("gateway.list_partner_clients"))
async def list_partner_clients(actor: CurrentActor, store: StoreDep) -> list[dict[str, Any]]:
    access.require("list_partner_clients", actor)
    return await partners.list_clients(store)


@router.post(
    "/{client_id}/{action}",
    summary="Disable or enable a partner client; a disabled client's tokens stop at once",
    openapi_extra=operation("gateway.set_partner_client_status"),
)
async def set_partner_client_status(
    client_id: str, action: Literal["disable", "enable"], actor: CurrentActor, store: StoreDep
) -> dict[str, Any]:
    found = await store.load_partner_client(client_id)
    access.require("set_partner_client_status", actor, access.partner_client(found or {}))
    if found is None:
        raise NotFound("no such partner client")
    status = "disabled" if action == "disable" else "active"
    await store.set_partner_client_status(client_id, status)
    if status == "disabled":
        await sessions.end_all(store, f"client:{client_id}", utcnow(), actor.account_id)
    return partners.view({**found, "status": status})
