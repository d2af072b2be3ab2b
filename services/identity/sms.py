"""The SMS partner over HTTP: one signed request per text, our notification id as the
idempotency key, so a retry after a timeout never texts twice."""

from __future__ import annotations

import os

from services.common.partners import post_signed


def to_partner(key: str, phone: str, text: str) -> tuple[bool, str]:
    """Send through the configured SMS partner (``SMS_URL``, ``SMS_SECRET``)."""
    url = os.environ.get("SMS_URL", "http://127.0.0.1:8702")
    return send(url, os.environ.get("SMS_SECRET", ""), key, phone, text)


def send(
    url: str, secret: str, key: str, phone: str, text: str, timeout: float = 10.0
) -> tuple[bool, str]:
    """(True, the partner's message id) or (False, why)."""
    if not secret:
        return False, "no SMS partner configured (SMS_SECRET)"
    payload = {"to": phone, "text": text}
    response = post_signed(f"{url.rstrip('/')}/messages", secret, key, payload, timeout)
    if isinstance(response, str):
        return False, f"SMS partner unreachable: {response}"
    message_id = response.json().get("message_id") if response.status_code in (200, 201) else None
    if message_id:
        return True, str(message_id)
    return False, f"SMS partner answered {response.status_code}: {response.text[:200]}"
