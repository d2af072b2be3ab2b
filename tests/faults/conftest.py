"""The faults suite: its own instance of the suite (vhost ``oct-faults``, databases
``faults_*``, port 19000), with the demo city loaded, so faults never touch the end-to-end
instance or one a developer started."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Suite, started_suite
from tests.e2e.conftest import load_demo


@pytest.fixture(scope="session")
def faults_suite() -> Iterator[Suite]:
    yield from started_suite("faults", 19000)


@pytest.fixture(scope="session")
def city(faults_suite: Suite) -> dict[str, Any]:
    return load_demo(faults_suite)
