"""Domain errors that cross the bus.

A service raises one of these; nameko serializes it as
``{"exc_type", "exc_path", "exc_args", "value"}`` and the gateway maps ``exc_type`` to an
HTTP status with one table (``services.gateway.problems``). ``exc_args`` is always
``[detail, extra]`` where ``extra`` is a JSON object (for example the offending ``field``).
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error a client may see. Subclasses set ``status`` and ``title``."""

    status = 400
    title = "Bad request"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail, extra)
        self.detail = detail
        self.extra = extra

    def __str__(self) -> str:
        return self.detail


class NotFound(DomainError):
    status = 404
    title = "Not found"


class Conflict(DomainError):
    status = 409
    title = "Conflict"


class Forbidden(DomainError):
    status = 403
    title = "Forbidden"


class InvalidInput(DomainError):
    """Bad input. ``field`` names the offending field (a dotted path) when there is one."""

    status = 422
    title = "Invalid input"

    def __init__(self, detail: str, field: str | None = None, **extra: Any) -> None:
        if field is not None:
            extra["field"] = field
        super().__init__(detail, **extra)
        self.field = field


class Unauthenticated(DomainError):
    status = 401
    title = "Not authenticated"


class RateLimited(DomainError):
    """Too many attempts; ``retry_after`` (seconds) tells the client when to come back."""

    status = 429
    title = "Too many requests"

    def __init__(self, detail: str, retry_after: int | str = 60, **extra: Any) -> None:
        # nameko's wire format carries numbers in exc_args as strings.
        seconds = int(retry_after)
        super().__init__(detail, retry_after=seconds, **extra)
        self.retry_after = seconds


class Unavailable(DomainError):
    status = 503
    title = "Service unavailable"


DOMAIN_ERRORS: tuple[type[DomainError], ...] = (
    NotFound,
    Conflict,
    Forbidden,
    InvalidInput,
    Unauthenticated,
    RateLimited,
    Unavailable,
)

ERRORS_BY_NAME: dict[str, type[DomainError]] = {cls.__name__: cls for cls in DOMAIN_ERRORS}
