"""Requests to partner systems we do not own (payments, SMS): a JSON body signed with
``X-Signature: t=…,v1=HMAC-SHA256(secret, "t.body")`` and our own id as ``Idempotency-Key``,
so a retry after a timeout is recognised by the partner and never acted on twice."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from services.common.crypto import timestamped_signature


def post_signed(
    url: str, secret: str, key: str, payload: dict[str, Any], timeout: float = 10.0
) -> httpx.Response | str:
    """The partner's response, or why there is none (unreachable, timed out)."""
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "Idempotency-Key": key,
        "X-Signature": timestamped_signature(secret, int(time.time()), body),
    }
    try:
        return httpx.post(url, content=body, headers=headers, timeout=timeout)
    except httpx.HTTPError as exc:
        return type(exc).__name__
