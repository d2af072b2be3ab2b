"""One's sessions (登录设备) and password: list and end sessions, log out everywhere, change
the password with the current one (every other session then ends)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from services.common.codec import utcnow
from services.common.errors import NotFound
from services.gateway import access, sessions
from services.gateway.access import operation
from services.gateway.deps import BusDep, CurrentActor, StoreDep

router = APIRouter(prefix="/v1/me", tags=["sessions"])


class PasswordChange(BaseModel):
    current: str = Field(min_length=1, max_length=128)
    new: str = Field(min_length=8, max_length=128)


@router.get(
    "/sessions",
    summary="My sessions that have not ended (this one marked current)",
    openapi_extra=operation("gateway.list_sessions"),
)
async def list_sessions(actor: CurrentActor, store: StoreDep) -> list[dict[str, Any]]:
    access.require("list_sessions", actor)
    return await sessions.live_of(
        store, str(actor.account_id), utcnow(), str(actor.extra.get("sid"))
    )


@router.delete(
    "/sessions/{session_id}",
    status_code=204,
    summary="End one of my sessions (a device I no longer use)",
    openapi_extra=operation("gateway.end_session"),
)
async def end_session(session_id: str, actor: CurrentActor, store: StoreDep) -> Response:
    found = await store.load_session(session_id)
    access.require("end_session", actor, access.session(found or {}))
    if found is None:
        raise NotFound("no such session")
    await sessions.end(store, session_id, utcnow(), actor.account_id)
    return Response(status_code=204)


@router.delete(
    "/sessions",
    summary="Log out everywhere else (a lost phone): every other session ends at once",
    openapi_extra=operation("gateway.end_all_sessions"),
)
async def end_all_sessions(actor: CurrentActor, store: StoreDep) -> dict[str, int]:
    access.require("end_all_sessions", actor)
    ended = await sessions.end_all(
        store, str(actor.account_id), utcnow(), actor.account_id, keep=str(actor.extra.get("sid"))
    )
    return {"ended": ended}


@router.post(
    "/password",
    summary="Change my password (with the current one); my other sessions end",
    openapi_extra=operation("identity.change_password", "gateway.end_all_sessions"),
)
async def change_password(
    body: PasswordChange, actor: CurrentActor, bus: BusDep, store: StoreDep
) -> dict[str, Any]:
    changed: dict[str, Any] = await bus.call(
        "identity", "change_password", current=body.current, new=body.new
    )
    ended = await sessions.end_all(
        store, str(actor.account_id), utcnow(), actor.account_id, keep=str(actor.extra.get("sid"))
    )
    return {**changed, "sessions_ended": ended}
