"""Log in and out, the home page and the large-text preference."""

from __future__ import annotations

import contextlib
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.gateway.deps import SettingsDep
from services.gateway.pages import session
from services.gateway.pages.api import ApiError, PageApi
from services.gateway.pages.messages import explain
from services.gateway.pages.render import page
from services.gateway.pages.visit import visit

router = APIRouter()


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, settings: SettingsDep) -> Response:
    here = await visit(request, settings)
    return page(request, "home.html", "首页", here.user, here.session)


def _login_page(
    request: Request,
    settings: SettingsDep,
    back_to: str,
    status_code: int = 200,
    username: str = "",
    error: str | None = None,
) -> Response:
    holder = Response()
    token = session.login_form(request, settings, holder)
    shown = page(
        request,
        "login.html",
        "登录",
        next=back_to,
        login_csrf=token,
        status_code=status_code,
        username=username,
        error=error,
    )
    shown.headers.append("set-cookie", holder.headers["set-cookie"])
    return shown


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, settings: SettingsDep, next: str = "/") -> Response:
    return _login_page(request, settings, session.safe_next(next))


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request,
    settings: SettingsDep,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=128)] = "",
    next: Annotated[str, Form(max_length=512)] = "/",
    csrf: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    back_to = session.safe_next(next)
    if not session.login_form_ok(request, settings, csrf):
        return _login_page(
            request,
            settings,
            back_to,
            status_code=400,
            username=username,
            error="登录页已过期，请重新输入用户名和密码",
        )
    if not username or not password:
        return _login_page(
            request,
            settings,
            back_to,
            status_code=422,
            username=username,
            error="请填写用户名和密码",
        )
    api = PageApi(settings, request, None)
    try:
        granted = await api.post(
            "/v1/auth/token",
            data={"grant_type": "password", "username": username, "password": password},
        )
    except ApiError as error:
        message = "用户名或密码不正确" if error.status == 401 else explain(error)
        return _login_page(
            request,
            settings,
            back_to,
            status_code=error.status if error.status in (401, 403, 423, 429) else 400,
            username=username,
            error=message,
        )
    response = RedirectResponse(back_to, status_code=303)
    session.start(response, request, granted["access_token"], int(granted["expires_in"]))
    return response


@router.post("/logout")
async def logout(request: Request, settings: SettingsDep) -> Response:
    """Ends the API session too: the token in the cookie stops working at once."""
    current = session.current(request, settings)
    if current is not None:
        with contextlib.suppress(ApiError):
            await PageApi(settings, request, current.token).post("/v1/auth/logout")
    response = RedirectResponse("/login", status_code=303)
    session.end(response)
    return response


@router.post("/prefs/large-text")
async def large_text(
    request: Request,
    on: Annotated[str, Form(max_length=1)] = "1",
    next: Annotated[str, Form(max_length=512)] = "/",
) -> Response:
    response = RedirectResponse(session.safe_next(next), status_code=303)
    session.set_large_text(response, request, on == "1")
    return response
