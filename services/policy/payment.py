"""The payment partner over HTTP: one signed request per payout, the payout id as the
idempotency key, so a retry after a timeout never pays twice. The partner may pay at once
(200/201 ``paid``) or accept (202) and tell us later with a signed callback (``POST
/v1/payment-callbacks`` on the gateway, verified here by :func:`callback`)."""

from __future__ import annotations

import json
import os
from typing import Any

from services.common.crypto import timestamped_signature_ok
from services.common.document import Document
from services.common.errors import InvalidInput, Unauthenticated
from services.common.partners import post_signed

PAYMENT_URL = os.environ.get("PAYMENT_URL", "http://127.0.0.1:8701")
# Where the partner tells us the outcome (the gateway's route); empty: it pays at once.
PAYMENT_CALLBACK_URL = os.environ.get("PAYMENT_CALLBACK_URL", "")


def secret() -> str:
    """The secret shared with the payment partner ("" when none is configured)."""
    return os.environ.get("PAYMENT_SECRET", "")


def to_partner(payout: Document) -> tuple[str, str]:
    """Disburse ``payout`` through the configured payment partner (:func:`disburse`)."""
    shared = secret()
    if not shared:
        return "failed", "no payment partner configured (PAYMENT_SECRET)"
    return disburse(PAYMENT_URL, shared, payout, PAYMENT_CALLBACK_URL)


def disburse(
    url: str, secret: str, payout: Document, callback_url: str = "", timeout: float = 10.0
) -> tuple[str, str]:
    """("paid", payment id), ("accepted", payment id): a callback will settle it, or
    ("failed", why)."""
    request = {
        "payout_id": payout["_id"],
        "amount": int(payout["amount"]),
        "payee": payout["subject"],
    }
    if callback_url:
        request["callback_url"] = callback_url
    response = post_signed(f"{url.rstrip('/')}/payments", secret, payout["_id"], request, timeout)
    if isinstance(response, str):
        return "failed", f"payment partner unreachable: {response}"
    if response.status_code in (200, 201, 202):
        answer = response.json()
        if answer.get("status") in ("paid", "accepted") and answer.get("payment_id"):
            return str(answer["status"]), str(answer["payment_id"])
    return "failed", f"payment partner answered {response.status_code}: {response.text[:200]}"


def callback(secret: str, signature: str, body: bytes, now: int) -> dict[str, Any]:
    """The partner's signed word on one payment: ``{payout_id, payment_id, status, amount}``
    (``status`` paid or failed). A bad or stale signature is refused."""
    if not timestamped_signature_ok(secret, signature, body, now):
        raise Unauthenticated("the callback's signature does not verify", field="X-Signature")
    try:
        news = json.loads(body)
    except ValueError as exc:
        raise InvalidInput("a JSON body", field="body") from exc
    if not isinstance(news, dict):
        raise InvalidInput("a JSON object", field="body")
    for name in ("payout_id", "payment_id"):
        if not isinstance(news.get(name), str) or not news[name]:
            raise InvalidInput("text", field=name)
    if news.get("status") not in ("paid", "failed"):
        raise InvalidInput("paid or failed", field="status")
    if isinstance(news.get("amount"), bool) or not isinstance(news.get("amount"), int):
        raise InvalidInput("the amount in fen", field="amount")
    return news
