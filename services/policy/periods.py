"""Payout periods: ``once``, a month ``2026-11``, a quarter ``2026-Q4`` or a year ``2026``,
each beginning and ending at midnight in Beijing; which period a moment falls in; and the
moment a period is paid as."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any

from services.common.codec import CITY_TIME
from services.common.document import Document
from services.common.errors import InvalidInput

YEAR = r"20\d\d"  # 2000–2099: a payout of another century is a typing error
PERIOD_FORMATS = {
    "once": r"once",
    "monthly": YEAR + r"-(0[1-9]|1[0-2])",
    "quarterly": YEAR + r"-Q[1-4]",
    "yearly": YEAR,
}


def validate_period(policy: Document, period: Any) -> str:
    pattern = PERIOD_FORMATS[policy["payout_period"]]
    if not isinstance(period, str) or not re.fullmatch(pattern, period):
        example = {"once": "once", "monthly": "2026-11", "quarterly": "2026-Q4", "yearly": "2026"}[
            policy["payout_period"]
        ]
        raise InvalidInput(f"a {policy['payout_period']} period such as {example}", field="period")
    return period


def period_bounds(policy: Document, period: str) -> tuple[datetime | None, datetime | None]:
    """When a period begins and ends, in Beijing time (``once``: the policy's effective dates,
    open where it names none)."""
    if period == "once":
        start, end = policy.get("effective_from"), policy.get("effective_until")
        return (
            _midnight(date.fromisoformat(start)) if start else None,
            _midnight(date.fromisoformat(end) + timedelta(days=1)) if end else None,
        )
    year = int(period[:4])
    if len(period) == 4:
        return _midnight(date(year, 1, 1)), _midnight(date(year + 1, 1, 1))
    first = 3 * (int(period[6]) - 1) + 1 if "Q" in period else int(period[5:7])
    months = 3 if "Q" in period else 1
    after = first + months
    end = date(year + (after - 1) // 12, (after - 1) % 12 + 1, 1)
    return _midnight(date(year, first, 1)), _midnight(end)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=CITY_TIME)


def evaluated_at(
    policy: Document, period: str, now: datetime, check_effective: bool = True
) -> datetime:
    """The moment a period is paid as: now within the period, its last moment for a period
    that has ended (parameters, facts in force and age as they were then). A period that has
    not begun is refused: nobody is paid ahead for a month that may not come to pass."""
    start, end = period_bounds(policy, period)
    if start is not None and start > now:
        begins = start.date().isoformat()
        raise InvalidInput(f"this period has not begun (it begins on {begins})", field="period")
    if check_effective and period != "once":  # wholly outside the effective dates: nothing
        effective, until = period_bounds(policy, "once")
        if (effective is not None and end is not None and end <= effective) or (
            until is not None and start is not None and start >= until
        ):
            raise InvalidInput(
                "this period lies outside the policy's effective dates", field="period"
            )
    if end is not None and end <= now:
        return end - timedelta(microseconds=1)
    return now


def current(policy: Document, now: datetime) -> str:
    """The period ``now`` falls in, in Beijing."""
    day = now.astimezone(CITY_TIME).date()
    return {
        "once": "once",
        "monthly": f"{day.year}-{day.month:02d}",
        "quarterly": f"{day.year}-Q{(day.month - 1) // 3 + 1}",
        "yearly": f"{day.year}",
    }[policy["payout_period"]]
