"""Payout periods in Beijing: which one a moment falls in, when each begins and ends."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.common.errors import InvalidInput
from services.policy import periods

MONTHLY = {"payout_period": "monthly"}


@pytest.mark.parametrize(
    ("kind", "moment", "expected"),
    [
        ("monthly", datetime(2026, 11, 30, 16, 0, tzinfo=UTC), "2026-12"),  # 00:00 in Beijing
        ("monthly", datetime(2026, 11, 30, 15, 59, tzinfo=UTC), "2026-11"),
        ("quarterly", datetime(2026, 9, 30, 16, 0, tzinfo=UTC), "2026-Q4"),
        ("yearly", datetime(2026, 12, 31, 16, 0, tzinfo=UTC), "2027"),
        ("once", datetime(2026, 5, 1, tzinfo=UTC), "once"),
    ],
)
def test_the_current_period_is_the_one_beijing_is_in(
    kind: str, moment: datetime, expected: str
) -> None:
    policy = {"payout_period": kind}
    assert periods.current(policy, moment) == expected
    periods.validate_period(policy, expected)  # and it is a period the runs accept


def test_a_period_that_has_not_begun_is_refused_naming_the_field() -> None:
    with pytest.raises(InvalidInput) as refused:
        periods.evaluated_at(MONTHLY, "2026-12", datetime(2026, 11, 30, 15, 0, tzinfo=UTC))
    assert refused.value.field == "period"
