"""The personal code (市民码): get a fresh one, see it as a QR, freeze it, read who scanned
it; verifier terminals check codes online and upload what they checked offline."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from services.common import token_status
from services.gateway import qr
from services.gateway.access import operation
from services.gateway.deps import AnonymousBus, BusDep, CurrentActor
from services.gateway.ratelimit import limit_verifier

router = APIRouter(tags=["codes"])
NO_STORE = {"Cache-Control": "no-store"}


class CodeVerify(BaseModel):
    token: str = Field(min_length=1, max_length=2048, description="what the QR holds")
    scene: str = Field(min_length=1, max_length=32)
    terminal_time: str | None = Field(
        default=None,
        max_length=40,
        description="what the terminal's clock reads (ISO 8601): the answer says `clock` "
        "when it is off by more than the allowed skew (30 s)",
    )


class KeyRotation(BaseModel):
    compromised: bool = Field(
        default=False,
        description="the signing key is compromised: refused and unpublished at once, and "
        "the next key signs now (a planned rotation publishes the next key 5½ minutes ahead)",
    )


class OfflineScan(BaseModel):
    token: str = Field(min_length=1, max_length=2048)
    scene: str = Field(min_length=1, max_length=32)
    scanned_at: str = Field(max_length=40)
    result: str = Field(default="ok", max_length=16)


class ScanLogUpload(BaseModel):
    terminal_id: str = Field(min_length=1, max_length=64)
    entries: list[OfflineScan] = Field(max_length=1000)


@router.post(
    "/v1/me/code",
    summary="A fresh dynamic code (or for the person in X-On-Behalf-Of)",
    openapi_extra=operation("identity.issue_code"),
)
async def issue_code(_actor: CurrentActor, bus: BusDep) -> JSONResponse:
    code = await bus.call("identity", "issue_code")
    return JSONResponse(code, headers=NO_STORE)


async def _code_image(bus: BusDep, render: Any, media_type: str) -> Response:
    code = await bus.call("identity", "issue_code")
    headers = {
        **NO_STORE,
        "X-Code-Expires-At": code["expires_at"],
        "X-Code-Refresh-In": str(code["refresh_in"]),
    }
    return Response(render(code["token"]), media_type=media_type, headers=headers)


@router.get(
    "/v1/me/code.png",
    summary="A fresh dynamic code as a PNG QR",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
    openapi_extra=operation("identity.issue_code"),
)
async def code_png(_actor: CurrentActor, bus: BusDep) -> Response:
    return await _code_image(bus, qr.png, "image/png")


@router.get(
    "/v1/me/code.svg",
    summary="A fresh dynamic code as an SVG QR",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}}},
    openapi_extra=operation("identity.issue_code"),
)
async def code_svg(_actor: CurrentActor, bus: BusDep) -> Response:
    return await _code_image(bus, qr.svg, "image/svg+xml")


@router.post(
    "/v1/me/code/freeze",
    summary="Freeze my code (lost phone)",
    openapi_extra=operation("identity.freeze_my_code"),
)
async def freeze_my_code(_actor: CurrentActor, bus: BusDep) -> Any:
    return await bus.call("identity", "freeze_my_code")


@router.post(
    "/v1/me/code/unfreeze",
    summary="Unfreeze my code (log in again first)",
    openapi_extra=operation("identity.unfreeze_my_code"),
)
async def unfreeze_my_code(actor: CurrentActor, bus: BusDep) -> Any:
    age = time.time() - float(actor.extra.get("iat") or 0)
    return await bus.call("identity", "unfreeze_my_code", token_age_s=age)


@router.get(
    "/v1/me/scans",
    summary="Who scanned my code, newest first",
    openapi_extra=operation("identity.list_my_scans"),
)
async def my_scans(
    _actor: CurrentActor,
    bus: BusDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    before: Annotated[str | None, Query(max_length=40)] = None,
) -> Any:
    return await bus.call("identity", "list_my_scans", limit=limit, before=before)


@router.post(
    "/v1/codes/verify",
    summary="Verify a scanned code for a scene (verifier terminals)",
    openapi_extra=operation("identity.verify_code"),
)
async def verify_code(
    body: CodeVerify,
    _actor: CurrentActor,
    bus: BusDep,
    _limit: Annotated[None, Depends(limit_verifier)],
) -> Any:
    return await bus.call(
        "identity",
        "verify_code",
        token=body.token,
        scene=body.scene,
        terminal_time=body.terminal_time,
    )


@router.post(
    "/v1/codes/scan-logs",
    summary="Upload scans made offline (idempotent per jti)",
    openapi_extra=operation("identity.upload_scan_logs"),
)
async def upload_scan_logs(body: ScanLogUpload, _actor: CurrentActor, bus: BusDep) -> Any:
    return await bus.call("identity", "upload_scan_logs", **body.model_dump())


@router.get(
    "/.well-known/jwks.json",
    summary="Public keys that sign codes, for offline terminals",
    openapi_extra=operation("identity.code_jwks"),
)
async def jwks(bus: AnonymousBus) -> JSONResponse:
    keys = await bus.call("identity", "code_jwks")
    cache = int(keys.pop("cache_seconds", 300))  # a new key is published this long ahead
    return JSONResponse(keys, headers={"Cache-Control": f"public, max-age={cache}"})


@router.get(
    "/v1/codes/printed/status-list",
    summary="The printed cards' Token Status List (statuslist+jwt), for offline terminals",
    response_class=Response,
    responses={200: {"content": {token_status.MEDIA_TYPE: {}}}},
    openapi_extra=operation("identity.printed_status_list"),
)
async def printed_status_list(bus: AnonymousBus) -> Response:
    listed = await bus.call("identity", "printed_status_list")
    return Response(
        listed["token"],
        media_type=token_status.MEDIA_TYPE,
        headers={"Cache-Control": f"public, max-age={int(listed['ttl'])}"},
    )


@router.post(
    "/v1/admin/code-keys/rotate",
    summary="Rotate the code-signing key (admin)",
    openapi_extra=operation("identity.rotate_code_key"),
)
async def rotate_code_key(
    _actor: CurrentActor, bus: BusDep, body: KeyRotation | None = None
) -> Any:
    return await bus.call("identity", "rotate_code_key", compromised=_compromised(body))


def _compromised(body: KeyRotation | None) -> bool:
    return body.compromised if body is not None else False


@router.post(
    "/v1/admin/card-keys/rotate",
    summary="Rotate the key that signs printed cards and their status list (admin)",
    description="A planned rotation signs new cards with the next key 5½ minutes later and "
    "keeps the old key published while a card it signed is valid (five years); "
    "`compromised` withdraws it at once, and every card it signed must be issued again.",
    openapi_extra=operation("identity.rotate_card_key"),
)
async def rotate_card_key(
    _actor: CurrentActor, bus: BusDep, body: KeyRotation | None = None
) -> Any:
    return await bus.call("identity", "rotate_card_key", compromised=_compromised(body))
