"""``POST /v1/auth/token``: OAuth2 password and client-credentials grants."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, Request, Response
from pydantic import BaseModel

from services.common.codec import utcnow
from services.common.crypto import derive_key
from services.common.errors import InvalidInput
from services.gateway import access, partners, sessions
from services.gateway.access import operation
from services.gateway.auth import issue_access_token
from services.gateway.deps import AnonymousBus, CurrentActor, KeyRingDep, SettingsDep, StoreDep
from services.gateway.ratelimit import client_address, limit_login

router = APIRouter(prefix="/v1/auth", tags=["auth"])


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 token type
    expires_in: int


@router.post(
    "/token",
    response_model=TokenResponse,
    summary="Get an access token",
    openapi_extra=operation("gateway.issue_token", "identity.authenticate"),
)
async def issue_token(
    request: Request,
    bus: AnonymousBus,
    store: StoreDep,
    ring: KeyRingDep,
    settings: SettingsDep,
    grant_type: Annotated[Literal["password", "client_credentials"], Form()],
    username: Annotated[str | None, Form(max_length=64)] = None,
    password: Annotated[str | None, Form(max_length=128)] = None,
    client_id: Annotated[str | None, Form(max_length=64)] = None,
    client_secret: Annotated[str | None, Form(max_length=128)] = None,
    *,
    response: Response,
    _limit: Annotated[None, Depends(limit_login)],
) -> TokenResponse:
    if grant_type == "password":
        if not username:
            raise InvalidInput("required for the password grant", field="username")
        if not password:
            raise InvalidInput("required for the password grant", field="password")
        claims = await bus.call(
            "identity",
            "authenticate",
            username=username,
            password=password,
            address=client_address(request),
        )
    else:
        if not client_id:
            raise InvalidInput("required for the client_credentials grant", field="client_id")
        if not client_secret:
            raise InvalidInput("required for the client_credentials grant", field="client_secret")
        hash_key = derive_key(settings.SECRET_KEY.get_secret_value(), "partner-secrets")
        claims = await partners.authenticate_client(store, hash_key, client_id, client_secret)
    sid = await sessions.open_session(
        store,
        claims["account_id"],
        utcnow(),
        settings.ACCESS_TOKEN_TTL,
        kind=grant_type,
        user_agent=request.headers.get("user-agent"),
        address=client_address(request),
    )
    token, expires_in = issue_access_token(claims, ring, settings, sid)
    response.headers["Cache-Control"] = "no-store"
    return TokenResponse(access_token=token, expires_in=expires_in)


@router.post(
    "/logout",
    status_code=204,
    summary="End the session of the token used (it stops working at once)",
    openapi_extra=operation("gateway.logout"),
)
async def logout(actor: CurrentActor, store: StoreDep) -> Response:
    access.require("logout", actor)
    await sessions.end(store, str(actor.extra.get("sid")), utcnow(), actor.account_id)
    return Response(status_code=204)
