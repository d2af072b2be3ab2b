"""Templates and what every page's template gets: the user (from ``GET /v1/me``), the CSRF
token, the large-text preference and the navigation their roles open."""

from __future__ import annotations

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

NAVIGATION = (
    ("citizen", "/citizen/code", "我的码"),
    ("citizen", "/citizen/certificates", "我的证照"),
    ("verifier", "/verify", "扫码核验"),
)


def navigation(user: dict[str, Any] | None) -> list[tuple[str, str]]:
    roles = set((user or {}).get("roles", []))
    return [(href, label) for role, href, label in NAVIGATION if role in roles]


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
