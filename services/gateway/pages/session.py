"""A page session is the API's own bearer token, kept in an HttpOnly, SameSite=Strict
cookie; forms that change something carry a CSRF token derived from it. The large-text
preference (适老化) is a cookie of its own, so it outlives logging out."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import Response

from services.common.crypto import derive_key, same
from services.gateway.settings import Settings

SESSION_COOKIE = "occ_session"
LOGIN_COOKIE = "occ_login"
LOGIN_FORM_LIFETIME = 30 * 60
LARGE_TEXT_COOKIE = "occ_large_text"
ONE_YEAR = 365 * 24 * 3600


@dataclass(frozen=True)
class PageSession:
    token: str
    csrf: str


def _csrf_for(settings: Settings, token: str) -> str:
    key = derive_key(settings.SECRET_KEY.get_secret_value(), "page-csrf")
    return hmac.new(key, token.encode(), hashlib.sha256).hexdigest()[:32]


def current(request: Request, settings: Settings) -> PageSession | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    return PageSession(token=token, csrf=_csrf_for(settings, token))


def login_form(request: Request, settings: Settings, response: Response) -> str:
    """The login form's CSRF token: bound to a random value in a cookie of this browser, so
    another site cannot post its own credentials into this browser's session (login CSRF)."""
    nonce = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(18)
    response.set_cookie(
        LOGIN_COOKIE,
        nonce,
        max_age=LOGIN_FORM_LIFETIME,
        httponly=True,
        samesite="strict",
        secure=secure(request),
        path="/login",
    )
    return _csrf_for(settings, "login:" + nonce)


def login_form_ok(request: Request, settings: Settings, submitted: str | None) -> bool:
    nonce = request.cookies.get(LOGIN_COOKIE)
    return bool(nonce and submitted) and same(
        _csrf_for(settings, "login:" + str(nonce)), str(submitted)
    )


def csrf_ok(session: PageSession, submitted: str | None) -> bool:
    return bool(submitted) and same(session.csrf, submitted or "")


def secure(request: Request) -> bool:
    return request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"


def start(response: Response, request: Request, token: str, lifetime_s: int) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=lifetime_s,
        httponly=True,
        samesite="strict",
        secure=secure(request),
        path="/",
    )


def end(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")


def large_text(request: Request) -> bool:
    return request.cookies.get(LARGE_TEXT_COOKIE) == "1"


def set_large_text(response: Response, request: Request, on: bool) -> None:
    response.set_cookie(
        LARGE_TEXT_COOKIE,
        "1" if on else "0",
        max_age=ONE_YEAR,
        samesite="lax",
        secure=secure(request),
        path="/",
    )


def safe_next(target: str | None) -> str:
    """Only a path on this site (never ``//elsewhere`` or a full URL)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"
