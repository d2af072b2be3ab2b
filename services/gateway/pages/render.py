"""Templates and what every page's template gets: the user (from ``GET /v1/me``), the CSRF
token, the large-text preference and the navigation their roles open."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from services.gateway.pages import session
from services.gateway.pages.session import PageSession

HERE = Path(__file__).resolve().parent.parent
TEMPLATES = Jinja2Templates(directory=HERE / "templates")
STATIC_DIR = HERE / "static"
CITY_TIME = timezone(timedelta(hours=8), "CST")  # China Standard Time: no daylight saving


def city_time(value: Any, seconds: bool = False) -> str:
    """An API time (ISO, UTC) as the city reads its clocks: ``2026-11-30 08:26``."""
    if not value:
        return "—"
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    shape = "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
    return moment.astimezone(CITY_TIME).strftime(shape)


TEMPLATES.env.filters["city_time"] = city_time

NAVIGATION = (
    ("citizen", "/citizen/code", "我的码"),
    ("citizen", "/citizen/certificates", "我的证照"),
    ("citizen", "/my/policies", "我的政策"),
    ("citizen", "/citizen/privacy", "谁看过我的数据"),
    ("citizen", "/citizen/proxies", "代办人"),
    ("enterprise", "/enterprise", "企业码与证照"),
    ("enterprise", "/my/policies", "政策与补贴"),
    ("verifier", "/verify", "扫码核验"),
    ("staff", "/staff/people", "登记"),
    ("staff", "/staff/certificates", "证照签发"),
    ("staff", "/staff/policies", "政策管理"),
    ("supervisor", "/staff/policies", "政策管理"),
    ("staff", "/tasks", "督办任务"),
    ("supervisor", "/tasks", "督办任务"),
)


def navigation(user: dict[str, Any] | None) -> list[tuple[str, str]]:
    roles = set((user or {}).get("roles", []))
    links = [(href, label) for role, href, label in NAVIGATION if role in roles]
    return list(dict.fromkeys(links))  # a link two roles open, once


def page(
    request: Request,
    template: str,
    title: str,
    user: dict[str, Any] | None = None,
    current: PageSession | None = None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(
        request,
        template,
        {
            "title": title,
            "user": user,
            "csrf": current.csrf if current else "",
            "large_text": session.large_text(request),
            "nav": navigation(user),
            "path": request.url.path,
            **context,
        },
        status_code=status_code,
        headers={"Cache-Control": "no-store"},
    )
