"""Today (in Beijing) a working day for the length of a test, as an administrator makes a
调休 day, and the year put back after.

A deadline given as a moment on a day off is moved to the next working day (as it should
be), so a test that waits seconds for a card to fall due would wait in vain on a weekend or
a holiday. Tests that watch the escalation sweep on the real clock use this."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import httpx

from services.tasks.calendar import CST


@contextmanager
def today_a_working_day(http: httpx.Client, admin: dict[str, str]) -> Iterator[None]:
    today = datetime.now(CST).date()
    path = f"/v1/calendar/{today.year}"
    found = http.get(path, headers=admin)
    assert found.status_code == 200, found.text
    shown = found.json()
    year: dict[str, Any] = {
        "holidays": shown["holidays"],
        "working_weekends": shown["working_weekends"],
        "hours": [pair.split("-") for pair in shown["hours"]],  # shown "09:00-12:00"
    }
    day = today.isoformat()
    working = {
        "holidays": [d for d in year["holidays"] if d != day],
        "working_weekends": sorted({*year["working_weekends"], day})
        if today.weekday() >= 5
        else year["working_weekends"],
        "hours": year["hours"],
    }
    if working == year:
        yield
        return
    put = http.put(path, headers=admin, json=working)
    assert put.status_code == 200, put.text
    try:
        yield
    finally:
        back = http.put(path, headers=admin, json=year)
        assert back.status_code == 200, back.text
