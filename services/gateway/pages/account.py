"""My account (账号与登录设备): the devices where I am logged in, ending one or all the others
(a lost phone), and changing my password with the current one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.gateway.deps import SettingsDep
from services.gateway.pages.api import ApiError
from services.gateway.pages.messages import explain
from services.gateway.pages.render import page
from services.gateway.pages.visit import Visit, visit

router = APIRouter(prefix="/account")

DONE = {
    "ended": "已退出该设备。",
    "others": "其他设备已全部退出。",
    "password": "密码已修改，其他设备已退出。",
}


async def _account_page(
    request: Request,
    here: Visit,
    notice: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    devices = await here.api.get("/v1/me/sessions")
    return page(
        request,
        "account.html",
        "账号与登录设备",
        here.user,
        here.session,
        devices=devices,
        notice=notice,
        error=error,
        status_code=status_code,
    )


@router.get("", response_class=HTMLResponse)
async def account(request: Request, settings: SettingsDep, done: str = "") -> Response:
    here = await visit(request, settings)
    return await _account_page(request, here, notice=DONE.get(done))


@router.post("/sessions/others")
async def end_others(request: Request, settings: SettingsDep) -> Response:
    here = await visit(request, settings)
    await here.api.call("DELETE", "/v1/me/sessions")
    return RedirectResponse("/account?done=others", status_code=303)


@router.post("/sessions/{session_id}/end")
async def end_one(session_id: str, request: Request, settings: SettingsDep) -> Response:
    here = await visit(request, settings)
    try:
        await here.api.call("DELETE", f"/v1/me/sessions/{session_id}")
    except ApiError as error:
        return await _account_page(request, here, error=explain(error), status_code=error.status)
    return RedirectResponse("/account?done=ended", status_code=303)


@router.post("/password")
async def change_password(
    request: Request,
    settings: SettingsDep,
    current: Annotated[str, Form(max_length=128)] = "",
    new: Annotated[str, Form(max_length=128)] = "",
    again: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    here = await visit(request, settings)
    if not current or not new:
        return await _account_page(request, here, error="请填写当前密码和新密码", status_code=422)
    if new != again:
        return await _account_page(request, here, error="两次输入的新密码不一致", status_code=422)
    try:
        await here.api.post("/v1/me/password", json={"current": current, "new": new})
    except ApiError as error:
        said = "当前密码不正确" if error.code == "wrong_password" else explain(error)
        return await _account_page(request, here, error=said, status_code=error.status)
    return RedirectResponse("/account?done=password", status_code=303)
