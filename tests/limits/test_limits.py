"""Every limit holds for the whole gateway (two workers here) and is counted, not raced: each
answer says how many requests its window still allows (``RateLimit-Remaining``), so the test
checks that every admitted request took exactly one, that the refusal came exactly when none
were left, and that nothing else (another verifier, a forged X-Forwarded-For) changes that.
The clock plays no part: a window that ends during the test simply starts a new count."""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, Suite
from tests.limits.conftest import ALLOWANCES


@pytest.fixture
def fresh(limits_suite: Suite) -> Iterator[httpx.Client]:
    """A client that opens a new connection for every request, so both workers answer."""
    no_reuse = httpx.Limits(max_keepalive_connections=0)
    with httpx.Client(base_url=limits_suite.base_url, timeout=30, limits=no_reuse) as client:
        yield client


def counted_until_refused(send: Callable[[], httpx.Response], allowance: int) -> list[int]:
    """Send until refused (at most three windows' worth); check the count at every step and
    return the statuses seen."""
    statuses, last_remaining, window = [], None, None
    for _ in range(3 * allowance + 3):
        answer = send()
        statuses.append(answer.status_code)
        assert answer.headers["RateLimit-Limit"] == str(allowance)
        remaining = int(answer.headers["RateLimit-Remaining"])
        if answer.headers["RateLimit-Window"] != window:
            # A new window (or the first seen: other requests, the fixtures' logins, may have
            # taken some of it before): counting starts from what it says is left.
            window, last_remaining = answer.headers["RateLimit-Window"], None
        if answer.status_code == 429:
            assert last_remaining in (None, 0), f"refused with {last_remaining} left"
            assert remaining == 0
            assert 1 <= int(answer.headers["Retry-After"]) <= 60
            return statuses
        if last_remaining is not None:
            assert remaining == last_remaining - 1, "an admitted request took other than one"
        last_remaining = remaining
    raise AssertionError(f"{len(statuses)} requests and never refused: {statuses}")


def token(http: httpx.Client, username: str, password: str) -> dict[str, str]:
    answer = http.post(
        "/v1/auth/token",
        data={"grant_type": "password", "username": username, "password": password},
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def verifier(http: httpx.Client, admin: dict[str, str], username: str) -> dict[str, str]:
    for unit in ({"code": "C", "name": "市", "kind": "city"},):
        http.post("/v1/org-units", headers=admin, json=unit)
    created = http.post(
        "/v1/accounts",
        headers=admin,
        json={
            "username": username,
            "password": "Limit-pass-2026",
            "roles": ["verifier"],
            "org_path": "C",
            "scenes": ["metro"],
        },
    )
    assert created.status_code in (201, 409), created.text
    return token(http, username, "Limit-pass-2026")


def test_a_verifier_is_refused_exactly_at_its_allowance_and_another_is_not(
    fresh: httpx.Client,
) -> None:
    allowance = ALLOWANCES["VERIFY_RATE_PER_MINUTE"]
    admin = token(fresh, ADMIN_USER, ADMIN_PASSWORD)
    flood, other = verifier(fresh, admin, "gate.flood"), verifier(fresh, admin, "gate.other")
    body = {"token": "x.y.z", "scene": "metro"}
    for path in ("/v1/codes/verify", "/v1/presentations/verify"):
        statuses = counted_until_refused(
            lambda p=path: fresh.post(p, headers=flood, json=body), allowance
        )
        assert set(statuses) <= {422, 429}
    calm = fresh.post("/v1/codes/verify", headers=other, json=body)
    assert calm.status_code == 422, calm.text  # its own allowance, untouched


def test_the_public_check_counts_the_address_whatever_it_claims(fresh: httpx.Client) -> None:
    allowance = ALLOWANCES["PUBLIC_RATE_PER_MINUTE"]

    def check() -> httpx.Response:
        forged = {"X-Forwarded-For": f"203.0.113.{secrets.randbelow(250) + 1}"}
        return fresh.get("/v1/certificates/NO-SUCH-NUMBER/verify", headers=forged)

    statuses = counted_until_refused(check, allowance)
    assert set(statuses) <= {200, 429}


def test_token_requests_are_limited_per_address(fresh: httpx.Client) -> None:
    allowance = ALLOWANCES["LOGIN_RATE_PER_MINUTE"]

    names = (f"nobody.{i}" for i in itertools.count())

    def guess() -> httpx.Response:
        # A name of its own each time: five failures of one name from one address lock that
        # name (identity's lockout, which counts unknown names too); this is the address limit.
        form = {"grant_type": "password", "username": next(names), "password": "guess-guess"}
        return fresh.post("/v1/auth/token", data=form)

    statuses = counted_until_refused(guess, allowance)
    assert set(statuses) <= {401, 429}
