"""The faults suite: its own instance of the suite (vhost ``oct-faults``, databases
``faults_*``, port 19000), with the demo city loaded, so faults never touch the end-to-end
instance or one a developer started."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, Suite, started_suite
from tests.e2e.conftest import demo_city


@pytest.fixture(scope="session")
def faults_suite() -> Iterator[Suite]:
    yield from started_suite("faults", 19000)


@pytest.fixture(scope="session")
def city(faults_suite: Suite) -> dict[str, Any]:
    loaded: dict[str, Any] = demo_city.load(
        faults_suite.base_url, ADMIN_USER, ADMIN_PASSWORD, faults_suite.var
    )
    return loaded
