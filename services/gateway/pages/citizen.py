"""The citizen's pages (市民), phone first: my code — the dynamic QR, refreshed before it
expires with a visible countdown, and freezing it."""

from __future__ import annotations

import base64
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from services.gateway import qr
from services.gateway.deps import SettingsDep
from services.gateway.pages import session
from services.gateway.pages.api import ApiError
from services.gateway.pages.messages import explain, frozen_words
from services.gateway.pages.render import page
from services.gateway.pages.visit import Visit, visit

router = APIRouter(prefix="/citizen")
DONE = {
    "frozen": "您的码已冻结：任何人出示它都会被拒绝。找回手机后可在此解冻。",
    "unfrozen": "您的码已解冻，可以正常使用。",
}


def qr_data_url(token: str) -> str:
    return "data:image/png;base64," + base64.b64encode(qr.png(token)).decode()


async def fresh_code(here: Visit, path: str = "/v1/me/code") -> dict[str, Any]:
    """A new dynamic code (mine, or an enterprise's at ``path``) as the page shows it, or
    why there is none."""
    try:
        code = await here.api.post(path)
    except ApiError as error:
        if error.code == "frozen":
            by_staff = (error.problem.get("frozen") or {}).get("by") == "staff"
            return {"frozen": True, "by_staff": by_staff, "words": frozen_words(error.problem)}
        return {"error": explain(error)}
    return {
        "image": qr_data_url(code["token"]),
        "expires_at": code["expires_at"],
        "refresh_in": int(code["refresh_in"]),
    }


@router.get("/code", response_class=HTMLResponse)
async def my_code(request: Request, settings: SettingsDep, done: str = "") -> Response:
    here = await visit(request, settings)
    code = await fresh_code(here)
    return page(
        request,
        "citizen_code.html",
        "我的码",
        here.user,
        here.session,
        code=code,
        notice=DONE.get(done),
    )


@router.get("/code/fresh")
async def my_code_fresh(request: Request, settings: SettingsDep) -> Response:
    """For the page's refresh (JSON): a new QR image before the old one expires."""
    current = session.current(request, settings)
    if current is None:
        return JSONResponse({"login": True}, status_code=401)
    here = await visit(request, settings)
    return JSONResponse(await fresh_code(here), headers={"Cache-Control": "no-store"})


async def _change(request: Request, settings: SettingsDep, action: str) -> Response:
    here = await visit(request, settings)
    try:
        await here.api.post(f"/v1/me/code/{action}")
    except ApiError as error:
        message = "为了安全，解冻前请重新登录" if error.code == "reauthenticate" else explain(error)
        return page(
            request,
            "message.html",
            "我的码",
            here.user,
            here.session,
            error=message,
            back="/citizen/code",
            status_code=error.status,
        )
    done = "frozen" if action == "freeze" else "unfrozen"
    return RedirectResponse(f"/citizen/code?done={done}", status_code=303)


@router.post("/code/freeze")
async def freeze(request: Request, settings: SettingsDep) -> Response:
    return await _change(request, settings, "freeze")


@router.post("/code/unfreeze")
async def unfreeze(request: Request, settings: SettingsDep) -> Response:
    return await _change(request, settings, "unfreeze")
