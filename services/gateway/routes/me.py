"""``GET /v1/me``: the caller, as the gateway and identity know them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from services.gateway.access import operation
from services.gateway.deps import BusDep, CurrentActor

router = APIRouter(prefix="/v1", tags=["me"])


@router.get(
    "/me", summary="The caller", openapi_extra=operation("gateway.read_me", "identity.get_account")
)
async def read_me(actor: CurrentActor, bus: BusDep) -> dict[str, Any]:
    if actor.client_id:
        return {
            "kind": "partner",
            "client_id": actor.client_id,
            "name": actor.name,
            "roles": list(actor.roles),
            "scopes": list(actor.scopes),
            "org_path": actor.org_path,
        }
    account = await bus.call("identity", "get_account", account_id=actor.account_id)
    return {"kind": "account", **account}
