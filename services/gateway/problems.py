"""Errors as ``application/problem+json`` (RFC 9457), in one table.

Domain errors raised in a service arrive as :class:`RemoteError` with the error's class
name; anything not in the table is a bug: a 500 with the request id, never a stack trace.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from services.common.errors import ERRORS_BY_NAME, DomainError, RateLimited
from services.common.logs import request_id_var
from services.gateway.rpc import BrokerUnavailable, RemoteError, RpcTimeout
from services.gateway.store import StoreUnreachable

log = logging.getLogger(__name__)

PROBLEM = "application/problem+json"
TYPE_BASE = "https://one-code-city.example/problems/"


def problem(
    status: int,
    title: str,
    detail: str,
    type_: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = {
        "type": TYPE_BASE + type_,
        "title": title,
        "status": status,
        "detail": detail,
        "request_id": request_id_var.get(),
        **{k: v for k, v in extra.items() if v is not None},
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def _slug(name: str) -> str:
    return "".join("-" + c.lower() if c.isupper() else c for c in name).lstrip("-")


# What a domain error may add to its problem (anything else stays inside): ``frozen`` tells
# a person why their code is frozen and where to go (only the person is ever sent it).
SAFE_EXTRA = frozenset({"field", "code", "retry_after", "state", "frozen"})


def domain_problem(error_name: str, detail: str, extra: dict[str, Any]) -> JSONResponse:
    cls = ERRORS_BY_NAME[error_name]
    headers = None
    if cls is RateLimited:
        headers = {"Retry-After": str(int(extra.get("retry_after", 60)))}
    if cls.__name__ == "Unauthenticated":
        headers = {"WWW-Authenticate": "Bearer"}
    if cls.__name__ == "Unavailable":
        headers = {"Retry-After": "5"}
    safe_extra = {k: v for k, v in extra.items() if k in SAFE_EXTRA}
    return problem(cls.status, cls.title, detail, _slug(error_name), headers, **safe_extra)


async def on_domain_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return domain_problem(type(exc).__name__, exc.detail, exc.extra)


async def on_remote_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RemoteError)
    if exc.exc_type in ERRORS_BY_NAME and exc.exc_path.startswith("services.common.errors."):
        return domain_problem(exc.exc_type, exc.detail, exc.extra)
    log.error("service error %s: %s", exc.exc_type, exc.detail)
    return problem(500, "Internal error", "an internal error occurred", "internal")


async def on_broker_unavailable(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BrokerUnavailable)
    return problem(
        503, "Service unavailable", str(exc), "unavailable", {"Retry-After": str(exc.retry_after)}
    )


async def on_timeout(_request: Request, exc: Exception) -> JSONResponse:
    return problem(504, "Gateway timeout", str(exc), "timeout")


async def on_validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    first = errors[0] if errors else {}
    location = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path", "form")]
    field = ".".join(location) or None
    detail = f"{field}: {first.get('msg', 'invalid')}" if field else "invalid request"
    return problem(422, "Invalid input", detail, "invalid-input", field=field)


async def on_http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers) if exc.headers else None
    titles = {
        401: "Not authenticated",
        403: "Forbidden",
        404: "Not found",
        405: "Method not allowed",
    }
    title = titles.get(exc.status_code, "Request refused")
    return problem(exc.status_code, title, str(exc.detail), _slug(title.replace(" ", "")), headers)


async def on_database_unreachable(_request: Request, exc: Exception) -> JSONResponse:
    """The gateway's own database (sessions, limits, idempotency) is down: ask again soon. A
    session that cannot be checked is not taken on trust (503, not a pass)."""
    log.warning("gateway database unreachable: %s", type(exc).__name__)
    return problem(
        503,
        "Service unavailable",
        "the gateway cannot reach its database now; retry shortly",
        "unavailable",
        {"Retry-After": "5"},
    )


async def on_too_deep(_request: Request, _exc: Exception) -> JSONResponse:
    """A JSON body nested deeper than any reader can follow (hundreds of levels)."""
    return problem(
        422, "Invalid input", "the body is nested too deeply", "invalid-input", field="body"
    )


async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, StoreUnreachable):  # from a middleware (idempotency), not a route
        return await on_database_unreachable(request, exc)
    log.error("unhandled error", exc_info=exc)
    return problem(500, "Internal error", "an internal error occurred", "internal")


def install(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, on_domain_error)
    app.add_exception_handler(RemoteError, on_remote_error)
    app.add_exception_handler(BrokerUnavailable, on_broker_unavailable)
    app.add_exception_handler(RpcTimeout, on_timeout)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(RecursionError, on_too_deep)
    app.add_exception_handler(StoreUnreachable, on_database_unreachable)
    app.add_exception_handler(Exception, on_unexpected)
