"""``POST /v1/auth/token``: OAuth2 password and client-credentials grants."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form
from pydantic import BaseModel

from services.common.crypto import derive_key
from services.common.errors import InvalidInput
from services.gateway import partners
from services.gateway.access import operation
from services.gateway.auth import issue_access_token
from services.gateway.deps import AnonymousBus, GatewayDb, KeyRingDep, SettingsDep

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
    bus: AnonymousBus,
    db: GatewayDb,
    ring: KeyRingDep,
    settings: SettingsDep,
    grant_type: Annotated[Literal["password", "client_credentials"], Form()],
    username: Annotated[str | None, Form(max_length=64)] = None,
    password: Annotated[str | None, Form(max_length=128)] = None,
    client_id: Annotated[str | None, Form(max_length=64)] = None,
    client_secret: Annotated[str | None, Form(max_length=128)] = None,
) -> TokenResponse:
    if grant_type == "password":
        if not username:
            raise InvalidInput("required for the password grant", field="username")
        if not password:
            raise InvalidInput("required for the password grant", field="password")
        claims = await bus.call("identity", "authenticate", username=username, password=password)
    else:
        if not client_id:
            raise InvalidInput("required for the client_credentials grant", field="client_id")
        if not client_secret:
            raise InvalidInput("required for the client_credentials grant", field="client_secret")
        hash_key = derive_key(settings.SECRET_KEY.get_secret_value(), "partner-secrets")
        claims = await partners.authenticate_client(db, hash_key, client_id, client_secret)
    token, expires_in = issue_access_token(claims, ring, settings)
    return TokenResponse(access_token=token, expires_in=expires_in)
