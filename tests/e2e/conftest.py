"""End-to-end fixtures: the suite started as ``make up`` starts it, with the demo city loaded
through the API, and helpers to log in as its people."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, ROOT, Suite

_spec = importlib.util.spec_from_file_location("demo_city", ROOT / "deploy/local/demo_city.py")
assert _spec is not None
assert _spec.loader is not None
demo_city = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(demo_city)

DEMO_PASSWORD: str = demo_city.DEMO_PASSWORD


def load_demo(suite: Suite) -> dict[str, Any]:
    """The demo city (``make up``'s) loaded into ``suite`` through its API: its accounts and
    the partner clients' secrets."""
    summary: dict[str, Any] = demo_city.load(suite.base_url, ADMIN_USER, ADMIN_PASSWORD, suite.var)
    return summary


@pytest.fixture(scope="session")
def demo(running_suite: Suite) -> dict[str, Any]:
    return load_demo(running_suite)


@pytest.fixture(scope="session")
def http(running_suite: Suite) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=running_suite.base_url, timeout=30) as client:
        yield client


def token_for(http: httpx.Client, username: str, password: str = DEMO_PASSWORD) -> str:
    response = http.post(
        "/v1/auth/token",
        data={"grant_type": "password", "username": username, "password": password},
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


@pytest.fixture(scope="session")
def login(http: httpx.Client, demo: dict[str, Any]) -> Callable[[str], dict[str, str]]:
    """``login("staff.nh")`` → headers carrying that person's bearer token."""
    cache: dict[str, dict[str, str]] = {}

    def headers(username: str) -> dict[str, str]:
        if username not in cache:
            password = ADMIN_PASSWORD if username == ADMIN_USER else DEMO_PASSWORD
            cache[username] = {"Authorization": f"Bearer {token_for(http, username, password)}"}
        return cache[username]

    return headers
