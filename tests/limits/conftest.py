"""The limits suite: its own instance (vhost ``oct-limits``, databases ``limits_*``, port
19400) with two gateway workers and small allowances, so a limit is counted across processes
and against traffic the test alone makes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import Suite, started_suite

ALLOWANCES = {
    "PUBLIC_RATE_PER_MINUTE": 10,
    "VERIFY_RATE_PER_MINUTE": 12,
    "LOGIN_RATE_PER_MINUTE": 30,
}


@pytest.fixture(scope="session")
def limits_suite() -> Iterator[Suite]:
    settings = {name: str(value) for name, value in ALLOWANCES.items()}
    yield from started_suite("limits", 19400, REPLICAS="2", **settings)
