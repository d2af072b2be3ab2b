"""The enterprise's page (企业): for each organisation the user operates, its enterprise code
(一企一码, dynamic like a citizen's) and its licences, the composite licence (一证多址 /
一业一证) among them; policies and payouts are on the shared "my policies" page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from services.gateway.deps import SettingsDep
from services.gateway.pages.citizen import fresh_code
from services.gateway.pages.render import page
from services.gateway.pages.visit import visit
from services.gateway.pages.wallet import cards

router = APIRouter(prefix="/enterprise")


def code_path(organisation_id: str) -> str:
    return f"/v1/organisations/{organisation_id}/code"


@router.get("", response_class=HTMLResponse)
async def enterprise(request: Request, settings: SettingsDep) -> Response:
    here = await visit(request, settings)
    organisations = await here.api.get("/v1/me/organisations")
    wallet = await cards(here) if organisations else []
    shown = [
        {
            **org,
            "code": await fresh_code(here, code_path(org["id"])),
            "licences": [c for c in wallet if c["subject"] == org["id"]],
        }
        for org in organisations
    ]
    return page(
        request, "enterprise.html", "企业服务", here.user, here.session, organisations=shown
    )


@router.get("/{organisation_id}/code/fresh")
async def fresh(organisation_id: str, request: Request, settings: SettingsDep) -> Response:
    here = await visit(request, settings)
    code = await fresh_code(here, code_path(organisation_id))
    return JSONResponse(code, headers={"Cache-Control": "no-store"})
