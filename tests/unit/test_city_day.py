"""The city's dates are Beijing dates: 07:46 in Beijing on 2 December is 23:46 UTC on the
1st, and a certificate issued then is dated the 2nd."""

from __future__ import annotations

from datetime import UTC, date, datetime

from services.common.codec import city_day


def test_a_morning_in_beijing_is_dated_that_day() -> None:
    assert city_day(datetime(2026, 12, 1, 23, 46, tzinfo=UTC)) == date(2026, 12, 2)
    assert city_day(datetime(2026, 12, 1, 15, 59, tzinfo=UTC)) == date(2026, 12, 1)
    assert city_day(datetime(2026, 12, 1, 16, 0)) == date(2026, 12, 2)  # naive means UTC
