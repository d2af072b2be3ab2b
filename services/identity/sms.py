"""The SMS partner over HTTP: one signed request per text, our notification id as the
idempotency key, so a retry after a timeout never texts twice."""

from __future__ import annotations

import json
import time

import httpx

from services.common.crypto import timestamped_signature


def send(
    url: str, secret: str, key: str, phone: str, text: str, timeout: float = 10.0
) -> tuple[bool, str]:
    """(True, the partner's message id) or (False, why)."""
    if not secret:
        return False, "no SMS partner configured (SMS_SECRET)"
    body = json.dumps({"to": phone, "text": text}, ensure_ascii=False).encode()
    headers = {
        "Content-Type": "application/json",
        "Idempotency-Key": key,
        "X-Signature": timestamped_signature(secret, int(time.time()), body),
    }
    try:
        response = httpx.post(
            f"{url.rstrip('/')}/messages", content=body, headers=headers, timeout=timeout
        )
    except httpx.HTTPError as exc:
        return False, f"SMS partner unreachable: {type(exc).__name__}"
    if response.status_code in (200, 201) and response.json().get("message_id"):
        return True, str(response.json()["message_id"])
    return False, f"SMS partner answered {response.status_code}: {response.text[:200]}"
