"""The pages people use (市民 / 核验 / 企业 / 工作人员), served by the gateway: server-rendered
templates in Simplified Chinese with a little JavaScript. Every page acts through the same
HTTP API, with the same bearer token, as a partner system would (:mod:`.api`), so a page can
never show or do what its user's token could not."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from services.gateway.pages import (
    account,
    authoring,
    citizen,
    common,
    enterprise,
    policies,
    privacy,
    registry,
    tasks,
    verifier,
    wallet,
)
from services.gateway.pages.api import ApiError
from services.gateway.pages.messages import explain
from services.gateway.pages.render import STATIC_DIR, page
from services.gateway.pages.visit import LoginNeeded, NotForYou, StaleForm, to_login


def install(app: FastAPI) -> None:
    for module in (
        common,
        account,
        citizen,
        wallet,
        enterprise,
        policies,
        privacy,
        authoring,
        registry,
        tasks,
        verifier,
    ):
        app.include_router(module.router, include_in_schema=False)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.exception_handler(LoginNeeded)
    async def login_needed(_request: Request, error: LoginNeeded) -> Response:
        return to_login(error)

    @app.exception_handler(NotForYou)
    async def not_for_you(request: Request, error: NotForYou) -> Response:
        said = error.said
        return page(request, "message.html", "无权访问", error=said, back="/", status_code=403)

    @app.exception_handler(StaleForm)
    async def stale_form(request: Request, _error: StaleForm) -> Response:
        said = "页面已过期，请返回刷新后重试"
        return page(request, "message.html", "页面已过期", error=said, back="/", status_code=403)

    @app.exception_handler(ApiError)
    async def api_refused(request: Request, error: ApiError) -> Response:
        """A refusal no page handled itself: said in plain words, never a trace."""
        return page(
            request,
            "message.html",
            "出错了",
            error=explain(error),
            back="/",
            status_code=error.status if 400 <= error.status < 600 else 502,
        )
