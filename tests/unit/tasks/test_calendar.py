"""The working-day clock: holidays, 调休 working weekends, working hours."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from services.common.errors import InvalidInput
from services.tasks import ladder
from services.tasks.calendar import CST, WorkCalendar, checked_year, from_documents, validate_year

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
