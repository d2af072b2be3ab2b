"""The working-day calendar on the real database: the official table preloaded once, shown
with its source, and overridden by what staff put, which a later preload never replaces."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from services.tasks import calendar
from services.tasks.store import TaskStore


def test_the_official_table_is_preloaded_and_staff_override_it(scratch_db: Any) -> None:
    store = TaskStore(scratch_db)
    this_year = datetime.now(UTC).astimezone(calendar.CST).year
    calendar.seed(store, None)
    shown = calendar.view_year(store, this_year)
    assert shown["configured"] is True
    assert shown["source"]["library"] == "holidays"
    assert f"{this_year}-10-01" in shown["holidays"]  # National Day, every year

    mine = calendar.validate_year(this_year, [f"{this_year}-12-01"], [], None)
    calendar.put_year(store, mine, "acc_calendar_admin")
    calendar.seed(store, None)  # a restart preloads again: staff's year stays
    shown = calendar.view_year(store, this_year)
    assert shown["holidays"] == [f"{this_year}-12-01"]
    assert shown["source"]["by"] == "acc_calendar_admin"
    work = calendar.load(store)
    assert not work.is_working_day(date(this_year, 12, 1))
    assert not work.is_working_day(date(this_year + 1, 10, 1))  # next year's, preloaded
