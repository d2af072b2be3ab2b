"""A small but real payment partner for one machine (演示支付机构), started by `make up`.

``POST /payments`` with a JSON body ``{"payout_id", "amount", "payee"}``, the header
``Idempotency-Key`` (the payout id) and ``X-Signature: t=…,v1=HMAC-SHA256(secret, "t.body")``.
It answers ``{"payment_id", "status": "paid"}``; the same key again returns the same payment
(never a second one), a different body under the same key is a 409, a bad signature a 401.
With a ``callback_url`` in the body it answers 202 ``{"payment_id", "status": "accepted"}``,
pays a moment later (``PAYMENT_SETTLE_SECONDS``) and POSTs a signed callback
``{"payout_id", "payment_id", "status": "paid", "amount"}`` to that URL, retried with backoff
until it is answered 2xx; asked again meanwhile, it answers what the payment has become.
Payees listed in ``PAYMENT_REFUSE`` (comma separated) are refused (402), so failures can be
exercised. Payments are kept in a JSON-lines file, read back at start.

    python deploy/local/payment_partner.py --port 8701 --secret-file var/secrets.env
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import threading
import time
import urllib.error
import urllib.request
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

from partnerkit import Journal, JsonHandler, listed, sign, signature_ok


class Ledger(Journal):
    def pay(self, key: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            earlier = self.records.get(key)
            if earlier is not None:
                if earlier["request"] != body:
                    return 409, {"error": "this idempotency key was used for another payment"}
                return 200, earlier["response"]
            later = bool(body.get("callback_url"))
            response = {
                "payment_id": "pay_" + secrets.token_hex(8),
                "status": "accepted" if later else "paid",
                "amount": body["amount"],
            }
            self.append({"key": key, "request": body, "response": response, "at": time.time()})
            return (202 if later else 201), response

    def settle(self, key: str) -> dict[str, Any]:
        """An accepted payment is made: recorded as paid (what a repeated request sees)."""
        with self.lock:
            record = self.records[key]
            response = {**record["response"], "status": "paid"}
            self.append({**record, "response": response, "paid_at": time.time()})
            return response


def call_back(secret: str, ledger: Ledger, key: str, url: str, delay: float) -> None:
    """Pay after ``delay``, then tell the payer (signed), retrying with backoff."""
    time.sleep(delay)
    payment = ledger.settle(key)
    request = ledger.records[key]["request"]
    body = json.dumps(
        {
            "payout_id": request["payout_id"],
            "payment_id": payment["payment_id"],
            "status": "paid",
            "amount": request["amount"],
        },
        separators=(",", ":"),
    ).encode()
    for attempt in range(10):
        req = urllib.request.Request(
            url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "X-Signature": sign(secret, body)},
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as answer:
                if 200 <= answer.status < 300:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(min(60.0, 0.5 * 2**attempt))


def serve(port: int, secret: str, ledger: Ledger, refuse: set[str], settle_after: float) -> None:
    class Handler(JsonHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server names it
            if self.path == "/healthz":
                self.answer(200, {"status": "ok", "payments": len(ledger.records)})
            else:
                self.answer(404, {"error": "not found"})

        def do_POST(self) -> None:  # noqa: N802 - http.server names it
            body = self.body()
            if self.path != "/payments":
                return self.answer(404, {"error": "not found"})
            if not signature_ok(secret, self.headers.get("X-Signature", ""), body):
                return self.answer(401, {"error": "bad signature"})
            key = self.headers.get("Idempotency-Key", "")
            try:
                request = json.loads(body)
                amount = request["amount"]
            except (ValueError, KeyError):
                return self.answer(400, {"error": "a JSON body with payout_id, amount, payee"})
            if not key or not isinstance(amount, int) or amount <= 0:
                return self.answer(400, {"error": "an Idempotency-Key and an amount in fen"})
            if request.get("payee") in refuse:
                return self.answer(402, {"error": "the payee's account refuses payments"})
            status, answer = ledger.pay(key, request)
            if status == 202:
                threading.Thread(
                    target=call_back,
                    args=(secret, ledger, key, str(request["callback_url"]), settle_after),
                    daemon=True,
                ).start()
            return self.answer(status, answer)

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("PAYMENT_PORT", 8701)))
    parser.add_argument("--ledger", default=os.environ.get("PAYMENT_LEDGER", "var/payments.jsonl"))
    args = parser.parse_args()
    secret = os.environ["PAYMENT_SECRET"]
    refuse = listed("PAYMENT_REFUSE")
    settle_after = float(os.environ.get("PAYMENT_SETTLE_SECONDS", "0.3"))
    serve(args.port, secret, Ledger(Path(args.ledger)), refuse, settle_after)


if __name__ == "__main__":
    main()
