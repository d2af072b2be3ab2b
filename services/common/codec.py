"""The JSON codec of the bus: ids and times are strings, money is integer fen.

Everything a service returns goes through :func:`to_wire`, so no ``datetime``, ``ObjectId``
or ``bytes`` ever reaches nameko's JSON serializer.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, overload

from bson import ObjectId

from services.common.errors import InvalidInput


def utcnow() -> datetime:
    """The current time, UTC, to the millisecond (what MongoDB stores)."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def format_time(value: datetime) -> str:
    """ISO 8601 UTC with a ``Z``: ``2026-11-22T08:30:00.123Z``."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def parse_time(value: str, field: str = "time") -> datetime:
    """Parse an ISO 8601 time; a time without an offset is refused rather than guessed."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (TypeError, ValueError) as exc:
        raise InvalidInput("must be an ISO 8601 time", field=field) from exc
    if parsed.tzinfo is None:
        raise InvalidInput("must carry a UTC offset (for example Z)", field=field)
    if not FIRST_YEAR <= parsed.year <= LAST_YEAR:  # also keeps astimezone from overflowing
        raise InvalidInput(f"a time between {FIRST_YEAR} and {LAST_YEAR}", field=field)
    return parsed.astimezone(UTC)


FIRST_YEAR, LAST_YEAR = 1900, 2199  # times anyone here means; 0001 and 9999 are typing errors


Scalar = str | int | float | bool | None


@overload
def to_wire(value: Mapping[str, Any]) -> dict[str, Any]: ...
@overload
def to_wire(value: datetime | ObjectId | bytes | list[Any] | tuple[Any, ...] | Scalar) -> Any: ...
def to_wire(value: Any) -> Any:
    """Turn a document from the database into plain JSON values."""
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, ObjectId):
        return str(value)
    if isinstance(value, bytes):
        return base64.urlsafe_b64encode(value).decode("ascii").rstrip("=")
    if isinstance(value, Mapping):
        return {str(k): to_wire(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_wire(v) for v in value]
    return value


def fen(value: Any, field: str = "amount") -> int:
    """Money is an integer number of fen; floats and negative amounts are refused."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput("money is an integer number of fen", field=field)
    if value < 0:
        raise InvalidInput("must not be negative", field=field)
    return value


CITY_TIME = timezone(timedelta(hours=8), "CST")  # China Standard Time: the city's dates


def city_day(moment: datetime) -> date:
    """The date in the city (Beijing) at ``moment``: a certificate issued at 07:46 on 2 December
    in Beijing is dated 2 December, not the UTC date before it."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(CITY_TIME).date()
