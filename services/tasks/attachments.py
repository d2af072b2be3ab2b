"""Attachments (附件): stored in the database next to the task, size-limited, and only of
the content types a counter can open; the type is checked against the file's first bytes."""

from __future__ import annotations

import base64
import binascii
import secrets
from datetime import datetime
from typing import Any

from services.common.document import Document
from services.common.errors import InvalidInput, NotFound
from services.tasks.store import TaskStore

MAX_BYTES = 512 * 1024
MAX_FILES = 5
SIGNATURES = {
    "application/pdf": (b"%PDF-",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "text/plain": (),
}


def prepare(files: list[dict[str, Any]], task_id: str, now: datetime) -> list[Document]:
    """Check every file before anything is written."""
    if not isinstance(files, list) or len(files) > MAX_FILES:
        raise InvalidInput(f"at most {MAX_FILES} files", field="attachments")
    prepared = []
    for i, item in enumerate(files):
        where = f"attachments[{i}]"
        name, kind, content = item.get("name"), item.get("content_type"), item.get("content")
        if not isinstance(name, str) or not 1 <= len(name) <= 100:
            raise InvalidInput("a file name of 1–100 characters", field=f"{where}.name")
        if kind not in SIGNATURES:
            raise InvalidInput(f"one of {', '.join(SIGNATURES)}", field=f"{where}.content_type")
        try:
            data = base64.b64decode(str(content), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InvalidInput("base64", field=f"{where}.content") from exc
        if not data or len(data) > MAX_BYTES:
            raise InvalidInput(f"1 byte to {MAX_BYTES // 1024} KiB", field=f"{where}.content")
        signatures = SIGNATURES[kind]
        if signatures and not data.startswith(signatures):
            raise InvalidInput(f"the content is not {kind}", field=f"{where}.content_type")
        if not signatures:
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InvalidInput("text/plain must be UTF-8", field=f"{where}.content") from exc
        prepared.append(
            {
                "_id": "att_" + secrets.token_hex(8),
                "task": task_id,
                "name": name,
                "content_type": kind,
                "size": len(data),
                "data": data,
                "at": now,
            }
        )
    return prepared


def brief(file: Document) -> dict[str, Any]:
    return {k: file[k] for k in ("name", "content_type", "size")} | {"id": file["_id"]}


def read(store: TaskStore, task: Document, attachment_id: str) -> Document:
    """An attachment of ``task`` (a parallel child reads its parent's)."""
    found = store.load_attachment(attachment_id) if isinstance(attachment_id, str) else None
    file = found if found and found["task"] in (task["_id"], task.get("parent")) else None
    if file is None:
        raise NotFound("no such attachment")
    return {
        "name": file["name"],
        "content_type": file["content_type"],
        "content": base64.b64encode(file["data"]).decode("ascii"),
    }
