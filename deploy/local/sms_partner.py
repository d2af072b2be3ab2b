"""A small but real SMS gateway for one machine (演示短信平台), started by `make up`.

``POST /messages`` with a JSON body ``{"to": "13800000000", "text": "…"}``, the header
``Idempotency-Key`` (the sender's message id) and ``X-Signature: t=…,v1=HMAC-SHA256(secret,
"t.body")``. It answers 201 ``{"message_id", "status": "delivered"}``; the same key again
returns the same message (never a second text to the phone), a different body under the
same key is a 409, a bad signature a 401, a number that is not an 11-digit mainland mobile
a 400. Numbers listed in ``SMS_UNREACHABLE`` (comma separated) get a 503, so retries can be
exercised.

``GET /messages?to=…`` (``Authorization: Bearer <secret>``) lists what one phone received,
the way an operator's console would: it is how the tests read the handset.

    SMS_SECRET=… python deploy/local/sms_partner.py --port 8702
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import time
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from partnerkit import Journal, JsonHandler, listed, signature_ok

MOBILE = re.compile(r"^1[3-9]\d{9}$")
MAX_TEXT = 500


class Outbox(Journal):
    def send(self, key: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            earlier = self.records.get(key)
            if earlier is not None:
                if earlier["request"] != body:
                    return 409, {"error": "this idempotency key was used for another message"}
                return 200, earlier["response"]
            response = {"message_id": "sms_" + secrets.token_hex(8), "status": "delivered"}
            self.append({"key": key, "request": body, "response": response, "at": time.time()})
            return 201, response

    def received_by(self, phone: str) -> list[dict[str, Any]]:
        with self.lock:
            return [
                {"key": r["key"], **r["response"], "text": r["request"]["text"], "at": r["at"]}
                for r in self.records.values()
                if r["request"]["to"] == phone
            ]


def serve(port: int, secret: str, outbox: Outbox, unreachable: set[str]) -> None:
    class Handler(JsonHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server names it
            url = urlsplit(self.path)
            if url.path == "/healthz":
                return self.answer(200, {"status": "ok", "messages": len(outbox.records)})
            if url.path != "/messages":
                return self.answer(404, {"error": "not found"})
            if self.headers.get("Authorization", "") != f"Bearer {secret}":
                return self.answer(401, {"error": "the console needs the partner secret"})
            phone = parse_qs(url.query).get("to", [""])[0]
            return self.answer(200, outbox.received_by(phone))

        def do_POST(self) -> None:  # noqa: N802 - http.server names it
            body = self.body()
            if self.path != "/messages":
                return self.answer(404, {"error": "not found"})
            if not signature_ok(secret, self.headers.get("X-Signature", ""), body):
                return self.answer(401, {"error": "bad signature"})
            key = self.headers.get("Idempotency-Key", "")
            try:
                request = json.loads(body)
                phone, text = request["to"], request["text"]
            except (ValueError, KeyError, TypeError):
                return self.answer(400, {"error": "a JSON body with to and text"})
            if not key or not isinstance(phone, str) or not MOBILE.match(phone):
                return self.answer(400, {"error": "an Idempotency-Key and a mobile number"})
            if not isinstance(text, str) or not 0 < len(text) <= MAX_TEXT:
                return self.answer(400, {"error": f"a text of 1 to {MAX_TEXT} characters"})
            if phone in unreachable:
                return self.answer(503, {"error": "the operator cannot reach this number now"})
            status, answer = outbox.send(key, {"to": phone, "text": text})
            return self.answer(status, answer)

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("SMS_PORT", 8702)))
    parser.add_argument("--outbox", default=os.environ.get("SMS_OUTBOX", "var/sms.jsonl"))
    args = parser.parse_args()
    unreachable = listed("SMS_UNREACHABLE")
    serve(args.port, os.environ["SMS_SECRET"], Outbox(Path(args.outbox)), unreachable)


if __name__ == "__main__":
    main()
