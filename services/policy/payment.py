"""The payment partner over HTTP: one signed request per payout, the payout id as the
idempotency key, so a retry after a timeout never pays twice."""

from __future__ import annotations

import json
import time

import httpx

from services.common.crypto import timestamped_signature
from services.common.mongo import Document


def disburse(url: str, secret: str, payout: Document, timeout: float = 10.0) -> tuple[str, str]:
    """("paid", payment id) or ("failed", why)."""
    body = json.dumps(
        {"payout_id": payout["_id"], "amount": int(payout["amount"]), "payee": payout["subject"]},
        separators=(",", ":"),
    ).encode()
    headers = {
        "Content-Type": "application/json",
        "Idempotency-Key": payout["_id"],
        "X-Signature": timestamped_signature(secret, int(time.time()), body),
    }
    try:
        response = httpx.post(
            f"{url.rstrip('/')}/payments", content=body, headers=headers, timeout=timeout
        )
    except httpx.HTTPError as exc:
        return "failed", f"payment partner unreachable: {type(exc).__name__}"
    if response.status_code in (200, 201) and response.json().get("status") == "paid":
        return "paid", str(response.json()["payment_id"])
    return "failed", f"payment partner answered {response.status_code}: {response.text[:200]}"
