"""Scan records: every scan of a subject's code, online, printed or uploaded later by an
offline terminal, with who scanned, where, when and the result. The subject reads them.

Offline uploads are idempotent per terminal and ``jti`` (a unique ``dedupe_key``).
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from pymongo.database import Database
from pymongo.errors import BulkWriteError

from services.common.access import Guard
from services.common.codec import parse_time, to_wire
from services.common.errors import Forbidden, InvalidInput
from services.common.mongo import Document
from services.identity.codekeys import KeyCache
from services.identity.codetoken import CodeRefused, read_code

RESULTS = frozenset({"ok", "expired", "replayed", "frozen", "revoked", "forged"})
MAX_UPLOAD = 1000


def record(
    db: Database[Document],
    sub: str,
    terminal: Document,
    scene: str,
    result: str,
    now: datetime,
    jti: str | None = None,
    source: str = "online",
) -> None:
    scan_id = "scan_" + secrets.token_hex(8)
    db.scans.insert_one(
        _document(scan_id, sub, terminal, scene, result, now, jti, source, f"{source}:{scan_id}")
    )


def record_first_use(
    db: Database[Document], sub: str, terminal: Document, scene: str, jti: str, now: datetime
) -> None:
    """Record an accepted online scan; its ``dedupe_key`` (``jti:…``, unique) is what makes a
    code single use: of two simultaneous scans only one insert succeeds, the other raises
    ``DuplicateKeyError``. One write does both jobs."""
    scan_id = "scan_" + secrets.token_hex(8)
    document = _document(scan_id, sub, terminal, scene, "ok", now, jti, "online", f"jti:{jti}")
    db.scans.insert_one(document)


def _document(
    scan_id: str,
    sub: str,
    terminal: Document,
    scene: str,
    result: str,
    at: datetime,
    jti: str | None,
    source: str,
    dedupe_key: str,
) -> Document:
    return {
        "_id": scan_id,
        "sub": sub,
        "at": at,
        "scene": scene,
        "result": result,
        "source": source,
        "jti": jti,
        "verifier": {"id": terminal["_id"], "name": terminal.get("display_name")},
        "dedupe_key": dedupe_key,
    }


def view(scan: Document) -> dict[str, Any]:
    return to_wire(
        {k: scan[k] for k in ("at", "scene", "result", "source", "verifier")} | {"id": scan["_id"]}
    )


def list_scans(
    db: Database[Document], guard: Guard, limit: int, before: str | None
) -> dict[str, Any]:
    query: Document = {"sub": {"$in": guard.mine()}}
    if before:
        query["at"] = {"$lt": parse_time(before, field="before")}
    limit = max(1, min(int(limit), 100))
    found = [view(s) for s in db.scans.find(query).sort([("at", -1), ("_id", -1)]).limit(limit)]
    return {"items": found, "next_before": found[-1]["at"] if len(found) == limit else None}


def upload_offline_logs(
    db: Database[Document],
    cache: KeyCache,
    guard: Guard,
    now: datetime,
    terminal_id: str,
    entries: list[dict[str, Any]],
) -> dict[str, Any]:
    """Each entry's scene must be one the terminal is registered for (else it is refused
    with its index and reason, and the rest are taken)."""
    terminal = db.accounts.find_one({"_id": guard.actor.account_id})
    if terminal is None or terminal.get("status") != "active":
        raise Forbidden("unknown terminal")
    if not isinstance(terminal_id, str) or not 1 <= len(terminal_id) <= 64:
        raise InvalidInput("a terminal id of 1–64 characters is required", field="terminal_id")
    if not isinstance(entries, list) or len(entries) > MAX_UPLOAD:
        raise InvalidInput(f"a list of at most {MAX_UPLOAD} entries", field="entries")
    documents, rejected = [], []
    for index, entry in enumerate(entries):
        scene = entry.get("scene") if isinstance(entry, dict) else None
        if not isinstance(scene, str) or scene not in (terminal.get("scenes") or []):
            rejected.append({"index": index, "reason": "scene_not_allowed"})
            continue
        try:
            documents.append(_offline_document(db, cache, terminal, terminal_id, now, entry))
        except (CodeRefused, InvalidInput, KeyError, TypeError) as exc:
            rejected.append({"index": index, "reason": getattr(exc, "reason", None) or str(exc)})
    inserted = 0
    if documents:
        try:
            inserted = len(db.scans.insert_many(documents, ordered=False).inserted_ids)
        except BulkWriteError as exc:
            inserted = exc.details.get("nInserted", 0)
    return {"accepted": inserted, "duplicates": len(documents) - inserted, "rejected": rejected}


def _offline_document(
    db: Database[Document],
    cache: KeyCache,
    terminal: Document,
    terminal_id: str,
    now: datetime,
    entry: dict[str, Any],
) -> Document:
    scanned_at = parse_time(entry["scanned_at"], field="scanned_at")
    result = entry.get("result", "ok")
    if result not in RESULTS:
        raise InvalidInput("unknown result", field="result")
    token = entry["token"]
    try:
        claims = read_code(token, cache.public_keys(db, now), scanned_at.timestamp(), leeway=30)
    except CodeRefused as refused:
        if refused.reason != "expired" or not refused.claims:
            raise
        sub, jti = str(refused.claims["sub"]), str(refused.claims["jti"])
    else:
        sub, jti = claims.sub, claims.jti
    key = f"offline:{terminal['_id']}:{terminal_id}:{jti}"
    return _document(
        "scan_" + secrets.token_hex(8),
        sub,
        terminal,
        str(entry.get("scene")),
        result,
        scanned_at,
        jti,
        "offline",
        key,
    )
