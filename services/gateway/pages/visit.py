"""One page visit by a logged-in person: their session, an API client carrying their token
and who they are (``GET /v1/me``). Without a valid session the visit becomes a redirect to
the login page, which brings them back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse

from services.gateway.pages import session
from services.gateway.pages.api import ApiError, PageApi
from services.gateway.pages.session import PageSession
from services.gateway.settings import Settings


class NotForYou(Exception):
    """A page this user's roles do not open (the API would refuse what it does anyway)."""

    def __init__(self, said: str) -> None:
        super().__init__(said)
        self.said = said


class StaleForm(Exception):
    """A form without this session's CSRF token (an old page, or another site's form)."""


class LoginNeeded(Exception):
    def __init__(self, back_to: str) -> None:
        super().__init__(back_to)
        self.back_to = back_to


@dataclass(frozen=True)
class Visit:
    session: PageSession
    api: PageApi
    user: dict[str, Any]

    def has_role(self, *roles: str) -> bool:
        return bool(set(roles) & set(self.user.get("roles", [])))

    def require(self, said: str, *roles: str) -> Visit:
        if not self.has_role(*roles):
            raise NotForYou(said)
        return self


STAFF = ("staff", "supervisor", "admin")


async def visit(request: Request, settings: Settings) -> Visit:
    """Who is asking; a request that may change something (any but GET) must carry the
    session's CSRF token in its form."""
    current = session.current(request, settings)
    if current is None:
        raise LoginNeeded(request.url.path)
    if request.method != "GET":
        submitted = (await request.form()).get("csrf")
        if not session.csrf_ok(current, submitted if isinstance(submitted, str) else None):
            raise StaleForm()
    api = PageApi(settings, request, current.token)
    try:
        user = await api.get("/v1/me")
    except ApiError as error:
        if error.status == 401:
            raise LoginNeeded(request.url.path) from error
        raise
    return Visit(current, api, user)


def to_login(error: LoginNeeded) -> RedirectResponse:
    response = RedirectResponse(f"/login?next={quote(error.back_to)}", status_code=303)
    session.end(response)
    return response
