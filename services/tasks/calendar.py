"""The working-day calendar (工作日历): weekends, public holidays and working weekends (调休)
per year, and the working hours of each year, in China Standard Time (UTC+8, no daylight
time).

Deadlines in working days or hours and the escalation ladder's offsets are computed on this
clock. The official holiday and 调休 table of the current and the next year comes from the
maintained ``holidays`` library (its China calendar, which follows the State Council's
notice each year), stored with the library's version and the day it was loaded, and
overridden by whatever staff put for a year (``PUT /v1/calendar/{year}``). A year whose 调休
the library does not have yet (the notice comes out in November or December) keeps only its
statutory holidays and says ``complete: false``; a year with nothing at all counts Monday to
Friday and says ``configured: false``, so a missing table is visible rather than silently
wrong.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from importlib import metadata
from typing import Any

import holidays

from services.common.codec import CITY_TIME, to_wire
from services.common.document import Document
from services.common.errors import InvalidInput
from services.tasks.store import TaskStore

CST = CITY_TIME  # the calendar counts in the city's time
DEFAULT_HOURS = (("09:00", "12:00"), ("13:30", "17:30"))
_SEARCH_DAYS = 3660  # never walk more than ten years looking for a working day


def _clock(value: str, field_name: str) -> time:
    try:
        parsed = time.fromisoformat(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInput("a time of day such as 09:00", field=field_name) from exc
    return parsed.replace(second=0, microsecond=0)


def _day(value: str, field_name: str) -> date:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInput("a date such as 2026-10-01", field=field_name) from exc


@dataclass(frozen=True)
class WorkCalendar:
    """Holidays and working weekends by date; working hours as (start, end) pairs."""

    holidays: frozenset[date] = frozenset()
    working_weekends: frozenset[date] = frozenset()
    hours: tuple[tuple[time, time], ...] = field(
        default=tuple((time.fromisoformat(a), time.fromisoformat(b)) for a, b in DEFAULT_HOURS)
    )
    hours_by_year: Mapping[int, tuple[tuple[time, time], ...]] = field(default_factory=dict)

    def hours_of(self, day: date) -> tuple[tuple[time, time], ...]:
        return self.hours_by_year.get(day.year, self.hours)

    def is_working_day(self, day: date) -> bool:
        if day in self.holidays:
            return False
        if day in self.working_weekends:
            return True
        return day.weekday() < 5

    def intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        """The day's working intervals in UTC (none on a day off)."""
        if not self.is_working_day(day):
            return []
        return [
            (
                datetime.combine(day, start, CST).astimezone(UTC),
                datetime.combine(day, end, CST).astimezone(UTC),
            )
            for start, end in self.hours_of(day)
        ]

    def _intervals_from(self, moment: datetime) -> Iterator[tuple[datetime, datetime]]:
        day = moment.astimezone(CST).date()
        for _ in range(_SEARCH_DAYS):
            for start, end in self.intervals(day):
                if end > moment:
                    yield max(start, moment), end
            day += timedelta(days=1)
        raise InvalidInput("no working day in the next ten years", field="calendar")

    def minutes_per_day(self) -> float:
        return sum(
            (datetime.combine(date.min, b) - datetime.combine(date.min, a)).total_seconds() / 60
            for a, b in self.hours
        )

    def next_working_moment(self, moment: datetime) -> datetime:
        """``moment`` itself inside working hours, else the start of the next working hour."""
        start, _end = next(self._intervals_from(moment))
        return start

    def add_working_minutes(self, moment: datetime, minutes: float) -> datetime:
        """The moment when ``minutes`` of working time have passed after ``moment``."""
        left = timedelta(minutes=minutes)
        if left <= timedelta(0):
            return moment
        for start, end in self._intervals_from(moment):
            if end - start >= left:
                return start + left
            left -= end - start
        raise AssertionError("unreachable")  # pragma: no cover

    def working_minutes(self, start: datetime, end: datetime) -> float:
        total = timedelta(0)
        for a, b in self._intervals_from(start):
            if a >= end:
                break
            total += min(b, end) - a
        return total.total_seconds() / 60

    def add_working_days(self, moment: datetime, days: int) -> datetime:
        """N working days (N个工作日): the end of working hours on the N-th working day after
        the day of ``moment`` (the day a task arrives does not count)."""
        day = moment.astimezone(CST).date()
        counted = 0
        for _ in range(_SEARCH_DAYS):
            day += timedelta(days=1)
            if self.is_working_day(day):
                counted += 1
                if counted >= days:
                    return self.intervals(day)[-1][1]
        raise InvalidInput("no working day in the next ten years", field="calendar")


def from_documents(years: Mapping[int, Document]) -> WorkCalendar:
    """Each year with its own working hours; a year not given has the latest year's."""
    holidays: set[date] = set()
    working: set[date] = set()
    by_year: dict[int, tuple[tuple[time, time], ...]] = {}
    for year in sorted(years):
        document = years[year]
        holidays.update(date.fromisoformat(d) for d in document.get("holidays", []))
        working.update(date.fromisoformat(d) for d in document.get("working_weekends", []))
        by_year[year] = tuple(
            (time.fromisoformat(a), time.fromisoformat(b))
            for a, b in (span.split("-") for span in document["hours"])
        )
    if not by_year:
        return WorkCalendar(frozenset(holidays), frozenset(working))
    latest = by_year[max(by_year)]
    return WorkCalendar(frozenset(holidays), frozenset(working), latest, by_year)


def load(store: TaskStore, now: datetime | None = None) -> WorkCalendar:
    """Every year staff configured or the library preloaded (a handful of small documents),
    and the official table of the current and the next year if it was not stored yet."""
    now = now or datetime.now(UTC)
    years = {int(d["_id"]): d for d in store.calendar_years()}
    for year in _preloaded_years(now):
        if year not in years:
            years[year] = official_year(year, now)
    return from_documents(years)


def _preloaded_years(now: datetime) -> tuple[int, int]:
    this = now.astimezone(CST).year
    return this, this + 1


LIBRARY_VERSION = metadata.version("holidays")


@functools.cache
def _library_table(year: int) -> tuple[tuple[date, ...], tuple[date, ...]]:
    """(days off, weekends worked) of ``year`` in the ``holidays`` library, read once."""
    table = holidays.country_holidays("CN", years=year)
    days_off = tuple(sorted(d for d in table if d.year == year))
    worked: set[date] = getattr(table, "weekend_workdays", set())
    return days_off, tuple(sorted(d for d in worked if d.year == year))


def official_year(year: int, now: datetime) -> Document:
    """The year's table as the ``holidays`` library has it: public holidays (with the days
    off moved for 调休) and the weekends worked instead, dated and named by library version.
    ``complete`` is false while the library knows no 调休 for the year (not yet published)."""
    days_off, worked = _library_table(year)
    return {
        "_id": year,
        "holidays": [d.isoformat() for d in days_off],
        "working_weekends": [d.isoformat() for d in worked],
        "hours": [f"{a}-{b}" for a, b in DEFAULT_HOURS],
        "source": {
            "library": "holidays",
            "version": LIBRARY_VERSION,
            "loaded_at": now.astimezone(UTC).isoformat(),
            "complete": bool(worked),
        },
    }


def seed(store: TaskStore, _config: Any) -> None:
    """Store the official table of the current and the next year. A year staff put is never
    replaced; one an earlier load stored is, when it was incomplete or came from another
    version of the library (the notice for next year is out and the library has it now)."""
    now = datetime.now(UTC)
    for year in _preloaded_years(now):
        table = official_year(year, now)
        stored = store.load_calendar_year(year)
        if stored is None:
            store.insert_calendar_year(table)
            continue
        source = stored.get("source") or {}
        loaded = source.get("library") == "holidays" and not stored.get("by")
        outdated = not source.get("complete") or source.get("version") != table["source"]["version"]
        if loaded and outdated:
            store.put_calendar_year(table)


def checked_year(year: Any) -> int:
    """A calendar year we keep: 2000 to 2100 (anything else is a typing error, not a year)."""
    if not isinstance(year, int) or isinstance(year, bool) or not 2000 <= year <= 2100:
        raise InvalidInput("a year between 2000 and 2100", field="year")
    return year


def validate_year(
    year: int, holidays: list[str], working_weekends: list[str], hours: list[list[str]] | None
) -> Document:
    checked_year(year)
    days_off = sorted({_day(d, "holidays") for d in holidays})
    days_on = sorted({_day(d, "working_weekends") for d in working_weekends})
    for d in [*days_off, *days_on]:
        if d.year != year:
            raise InvalidInput(f"{d} is not in {year}", field="holidays")
    for d in days_on:
        if d.weekday() < 5:
            raise InvalidInput(f"{d} is not a Saturday or Sunday", field="working_weekends")
    if set(days_off) & set(days_on):
        raise InvalidInput("a day cannot be both a holiday and a working day", field="holidays")
    intervals = hours or DEFAULT_HOURS
    if not isinstance(intervals, list | tuple) or any(
        not isinstance(pair, list | tuple) or len(pair) != 2 for pair in intervals
    ):
        raise InvalidInput('pairs of times such as ["09:00", "12:00"]', field="hours")
    pairs = [(_clock(a, "hours"), _clock(b, "hours")) for a, b in intervals]
    if (
        not pairs
        or any(a >= b for a, b in pairs)
        or any(pairs[i][1] > pairs[i + 1][0] for i in range(len(pairs) - 1))
    ):
        raise InvalidInput("ordered, non-overlapping intervals such as 09:00–12:00", field="hours")
    return {
        "_id": year,
        "holidays": [d.isoformat() for d in days_off],
        "working_weekends": [d.isoformat() for d in days_on],
        # "09:00-12:00": FerretDB stores no arrays inside arrays
        "hours": [f"{a.strftime('%H:%M')}-{b.strftime('%H:%M')}" for a, b in pairs],
    }


def put_year(store: TaskStore, document: Document, by: str | None) -> dict[str, Any]:
    source = {"by": by, "at": datetime.now(UTC).isoformat(), "complete": True}
    store.put_calendar_year({**document, "by": by, "source": source})
    return view_year(store, document["_id"])


def view_year(store: TaskStore, year: int) -> dict[str, Any]:
    checked_year(year)
    document = store.load_calendar_year(year)
    if document is None and year in _preloaded_years(datetime.now(UTC)):
        document = official_year(year, datetime.now(UTC))
    if document is None:
        return {
            "year": year,
            "configured": False,
            "holidays": [],
            "working_weekends": [],
            "hours": [f"{a}-{b}" for a, b in DEFAULT_HOURS],
        }
    return to_wire(
        {
            "year": year,
            "configured": True,
            **{k: document[k] for k in ("holidays", "working_weekends", "hours")},
            "source": document.get("source") or {"by": document.get("by"), "complete": True},
        }
    )


def due_on_working_day(calendar: WorkCalendar, due: datetime, policy: str) -> datetime:
    """A deadline given as a moment that falls on a day off: moved to the next working moment
    (``move``) or refused (``refuse``), as the deployment chose (``DUE_ON_DAY_OFF``)."""
    if calendar.is_working_day(due.astimezone(CST).date()):
        return due
    if policy == "refuse":
        raise InvalidInput(
            "this falls on a day off; choose a working day", field="limit.due_at", code="day_off"
        )
    return calendar.next_working_moment(due)
