"""JSON-lines logging with the request id and the call id stack of the current call.

The context lives in ``contextvars``: asyncio tasks in the gateway and eventlet greenlets in
nameko workers (greenlet ≥ 1.0 gives each greenlet its own context) each see their own.
As a last line of defence the formatter masks anything shaped like an ID-card number or a
unified social credit code, so personal data never reaches a log in clear.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
call_id_stack_var: ContextVar[tuple[str, ...]] = ContextVar("call_id_stack", default=())

# 18-character resident ID numbers and unified social credit codes, in any text.
_ID_LIKE = re.compile(
    r"(?<![0-9A-Za-z])([0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{9}[0-9A-HJ-NPQRTUWXYx])(?![0-9A-Za-z])"
)


def scrub(text: str) -> str:
    return _ID_LIKE.sub(lambda m: m.group(1)[:4] + "*" * 10 + m.group(1)[-4:], text)


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str = "", **_: Any) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if self.service:
            entry["service"] = self.service
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        stack = call_id_stack_var.get()
        if stack:
            entry["call_id_stack"] = list(stack)
        for key, value in getattr(record, "fields", {}).items():
            entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return scrub(json.dumps(entry, ensure_ascii=False, default=str))


def configure(service: str, level: str = "INFO") -> None:
    """Log JSON lines to stderr (what a container platform collects)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service=service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def log_fields(**fields: Any) -> dict[str, Any]:
    """``log.info("scan", extra=log_fields(scene="metro"))`` adds keys to the JSON line."""
    return {"fields": fields}
