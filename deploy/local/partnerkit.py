"""What the demo partners under ``deploy/local/`` share: the signed-request check (the same
``t=…,v1=HMAC-SHA256(secret, "t.body")`` header our services send), an fsync'd JSON-lines
record keyed by the caller's idempotency key, and JSON answers."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

MAX_SKEW_S = 300
MAX_BODY = 65536


def sign(secret: str, body: bytes, stamp: int | None = None) -> str:
    stamp = int(time.time()) if stamp is None else stamp
    mac = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={mac}"


def signature_ok(secret: str, header: str, body: bytes) -> bool:
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        stamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - stamp) > MAX_SKEW_S:
        return False
    mac = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(mac, parts.get("v1", ""))


class Journal:
    """Records by idempotency key, appended (and fsync'd) to a JSON-lines file and read back
    at start: the last line for a key wins."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.records: dict[str, dict[str, Any]] = {}
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            for line in path.read_text().splitlines():
                record = json.loads(line)
                self.records[record["key"]] = record

    def append(self, record: dict[str, Any]) -> None:
        """Call with ``lock`` held."""
        with self.path.open("a") as out:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            out.flush()
            os.fsync(out.fileno())
        self.records[record["key"]] = record


class JsonHandler(BaseHTTPRequestHandler):
    def answer(self, status: int, body: dict[str, Any] | list[Any]) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self) -> bytes:
        return self.rfile.read(min(int(self.headers.get("Content-Length", 0)), MAX_BODY))

    def log_message(self, *_args: Any) -> None:
        pass


def listed(variable: str) -> set[str]:
    """A comma-separated list from the environment (the demo partners' test switches)."""
    return {item for item in os.environ.get(variable, "").split(",") if item}
