"""The working-day clock: holidays, 调休 working weekends, working hours."""

from __future__ import annotations

from datetime import date, datetime
from importlib import metadata

import pytest

from services.common.errors import InvalidInput
from services.tasks import ladder
from services.tasks.calendar import (
    CST,
    WorkCalendar,
    checked_year,
    due_on_working_day,
    from_documents,
    official_year,
    validate_year,
)

# National Day 2026 as a test calendar: 1–7 October off, Saturday 10 October worked.
YEAR = validate_year(
    2026,
    [f"2026-10-0{d}" for d in range(1, 8)],
    ["2026-10-10"],
    None,
)
CALENDAR = from_documents({2026: YEAR})


def cst(*args: int) -> datetime:
    return datetime(*args, tzinfo=CST)


def test_holidays_and_working_weekends() -> None:
    assert not CALENDAR.is_working_day(date(2026, 10, 5))  # a Monday in the holiday
    assert CALENDAR.is_working_day(date(2026, 10, 10))  # the 调休 Saturday
    assert not CALENDAR.is_working_day(date(2026, 10, 11))  # an ordinary Sunday
    assert CALENDAR.is_working_day(date(2026, 10, 12))


def test_working_days_skip_the_holiday_and_count_the_working_saturday() -> None:
    start = cst(2026, 9, 30, 10, 0)
    assert CALENDAR.add_working_days(start, 1) == cst(2026, 10, 8, 17, 30)
    assert CALENDAR.add_working_days(start, 3) == cst(2026, 10, 10, 17, 30)
    assert CALENDAR.add_working_days(start, 4) == cst(2026, 10, 12, 17, 30)


def test_working_minutes_skip_lunch_nights_and_days_off() -> None:
    assert CALENDAR.working_minutes(cst(2026, 9, 30, 10, 0), cst(2026, 10, 8, 10, 0)) == 360 + 60
    assert CALENDAR.add_working_minutes(cst(2026, 9, 30, 11, 30), 60) == cst(2026, 9, 30, 14, 0)


def test_notices_outside_working_hours_wait_for_the_next_working_hour() -> None:
    assert CALENDAR.next_working_moment(cst(2026, 10, 10, 17, 30)) == cst(2026, 10, 12, 9, 0)
    assert CALENDAR.next_working_moment(cst(2026, 9, 30, 12, 30)) == cst(2026, 9, 30, 13, 30)
    assert CALENDAR.next_working_moment(cst(2026, 9, 30, 10, 0)) == cst(2026, 9, 30, 10, 0)


def test_the_default_ladder_on_the_calendar() -> None:
    start, due = cst(2026, 9, 30, 10, 0), cst(2026, 10, 10, 17, 30)
    rungs = ladder.rungs(ladder.DEFAULT_RULE, start, due, CALENDAR)
    assert [(r.card, r.at) for r in rungs] == [
        ("warning", cst(2026, 10, 10, 9, 15)),  # 75 % of 1,620 working minutes
        ("yellow", due),
        ("red", cst(2026, 10, 13, 17, 30)),  # two working days after, Sunday skipped
    ]


def test_an_unconfigured_year_counts_weekdays() -> None:
    plain = WorkCalendar()
    assert plain.add_working_days(cst(2027, 1, 1, 10, 0), 1) == cst(2027, 1, 4, 17, 30)


@pytest.mark.parametrize(
    ("holidays", "working", "hours", "field"),
    [
        (["2025-10-01"], [], None, "holidays"),
        ([], ["2026-10-09"], None, "working_weekends"),
        (["2026-10-10"], ["2026-10-10"], None, "holidays"),
        ([], [], [["12:00", "09:00"]], "hours"),
        ([], [], [["09:00", "12:00", "13:00"]], "hours"),  # found by schemathesis: was a 500
        ([], [], [["09:00"]], "hours"),
        (["10/01"], [], None, "holidays"),
    ],
)
def test_bad_calendars_are_refused_naming_the_field(
    holidays: list[str], working: list[str], hours: list[list[str]] | None, field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        validate_year(2026, holidays, working, hours)
    assert refused.value.extra["field"] == field


@pytest.mark.parametrize("year", [1999, 2101, 12230657153338920960, True])
def test_only_years_a_calendar_can_hold_are_read_or_written(year: int) -> None:
    # found by schemathesis: a year past 64 bits reached the database and was a 500
    with pytest.raises(InvalidInput) as refused:
        checked_year(year)
    assert refused.value.extra["field"] == "year"


def test_ladder_rules_are_validated_and_the_most_specific_wins() -> None:
    with pytest.raises(InvalidInput) as refused:
        ladder.validate_rule(
            "x", {}, [{"card": "yellow", "fraction": 1}, {"card": "warning", "fraction": 0.5}]
        )
    assert refused.value.extra["field"] == "steps[1].card"
    urgent = ladder.validate_rule("urgent", {"level": "urgent"}, [{"card": "red", "fraction": 1}])
    hotline = ladder.validate_rule(
        "hotline-urgent",
        {"level": "urgent", "source": "hotline_12345"},
        [{"card": "yellow", "fraction": 0.5}],
    )
    rules = [ladder.DEFAULT_RULE, urgent, hotline]
    assert ladder.choose(rules, {"level": "urgent", "source": "hotline_12345"}) is hotline
    assert ladder.choose(rules, {"level": "urgent", "source": "manual"}) is urgent
    assert ladder.choose(rules, {"level": "normal"})["_id"] == "default"


def test_the_official_table_comes_from_the_holidays_library_with_its_version() -> None:
    loaded = cst(2026, 12, 2, 10, 0)
    table = official_year(2026, loaded)
    assert {"2026-10-01", "2026-10-07", "2026-02-17"} <= set(table["holidays"])  # 国庆, 春节
    assert {"2026-02-14", "2026-10-10"} <= set(table["working_weekends"])  # 调休 worked
    assert table["source"]["library"] == "holidays"
    assert table["source"]["version"] == metadata.version("holidays")
    assert table["source"]["complete"] is True
    official = from_documents({2026: table})
    assert not official.is_working_day(date(2026, 10, 7))
    assert official.is_working_day(date(2026, 10, 10))  # a Saturday worked


def test_each_year_keeps_its_own_working_hours() -> None:
    summer = validate_year(2026, [], [], [["08:30", "12:00"], ["14:30", "18:00"]])
    plain = validate_year(2027, [], [], None)
    both = from_documents({2026: summer, 2027: plain})
    assert both.next_working_moment(cst(2026, 12, 1, 8, 0)) == cst(2026, 12, 1, 8, 30)
    assert both.next_working_moment(cst(2027, 12, 1, 8, 0)) == cst(2027, 12, 1, 9, 0)


def test_a_deadline_on_a_day_off_is_moved_or_refused_as_configured() -> None:
    on_holiday = cst(2026, 10, 5, 17, 0)
    assert due_on_working_day(CALENDAR, on_holiday, "move") == cst(2026, 10, 8, 9, 0)
    working = cst(2026, 10, 9, 17, 0)
    assert due_on_working_day(CALENDAR, working, "refuse") == working
    with pytest.raises(InvalidInput) as refused:
        due_on_working_day(CALENDAR, on_holiday, "refuse")
    assert refused.value.field == "limit.due_at"
