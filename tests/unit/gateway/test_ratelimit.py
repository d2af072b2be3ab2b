"""Where a client stands against a limit, and whose address a request is counted under."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from services.gateway.ratelimit import (
    PAGE_ADDRESS,
    PAGE_SIGNATURE,
    Decision,
    client_address,
    page_signature,
)
from services.gateway.settings import Settings


def test_an_answer_says_how_many_are_left_and_when_the_window_ends() -> None:
    allowed = Decision(True, limit=20, remaining=7, reset_at=1_000_060).headers(now=1_000_000.2)
    assert allowed == {
        "RateLimit-Limit": "20",
        "RateLimit-Remaining": "7",
        "RateLimit-Reset": "60",
        "RateLimit-Window": "1000060",
    }
    refused = Decision(False, limit=20, remaining=0, reset_at=1_000_060).headers(now=1_000_030)
    assert refused["RateLimit-Reset"] == "30"
    assert refused["RateLimit-Remaining"] == "0"


def request(peer: str, headers: dict[str, str], settings: Settings) -> Request:
    scope: dict[str, Any] = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": (peer, 50000),
        "state": {"settings": settings},
    }
    return Request(scope)


def test_forwarded_for_is_believed_only_from_a_trusted_proxy() -> None:
    plain = Settings(TRUSTED_PROXIES="")
    behind = Settings(TRUSTED_PROXIES="10.0.0.0/8")
    forged = {"X-Forwarded-For": "203.0.113.9"}
    assert client_address(request("198.51.100.7", forged, plain)) == "198.51.100.7"
    assert client_address(request("198.51.100.7", forged, behind)) == "198.51.100.7"
    # Through the balancer: the nearest address it did not add itself.
    chain = {"X-Forwarded-For": "203.0.113.9, 192.0.2.44, 10.1.2.3"}
    assert client_address(request("10.0.0.5", chain, behind)) == "192.0.2.44"


def test_only_the_gateways_own_pages_vouch_for_a_browser() -> None:
    settings = Settings(TRUSTED_PROXIES="")
    signed = {PAGE_ADDRESS: "192.0.2.8", PAGE_SIGNATURE: page_signature(settings, "192.0.2.8")}
    assert client_address(request("127.0.0.1", signed, settings)) == "192.0.2.8"
    unsigned = {PAGE_ADDRESS: "192.0.2.8", PAGE_SIGNATURE: "0" * 64}
    assert client_address(request("127.0.0.1", unsigned, settings)) == "127.0.0.1"
