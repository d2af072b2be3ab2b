"""Scan records: every scan of a subject's code, online, printed or uploaded later by an
offline terminal, with who scanned, where, when and the result. The subject reads them.

Offline uploads are idempotent per terminal and ``jti`` (a unique ``dedupe_key``), and a
code is used once whatever the way: the scan that uses it is recorded under an id made of
its ``jti`` (:func:`use_id`), so recording it is the code's one use, in one insert.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from services.common.access import Guard
from services.common.codec import parse_time, to_wire
from services.common.document import Document
from services.common.errors import Forbidden, InvalidInput
from services.identity.cardtoken import STATUS_LIFETIME, is_card, read_card
from services.identity.codekeys import CLOCK_SKEW, SKEW_SECONDS, KeyCache
from services.identity.codetoken import CodeRefused, kid_of, read_code
from services.identity.store import IdentityStore

RESULTS = frozenset({"ok", "expired", "replayed", "frozen", "revoked", "forged", "clock"})
MAX_UPLOAD = 1000
UPLOAD_WINDOW = timedelta(days=7)  # a printed card's offline scans are uploaded within it


def record(
    store: IdentityStore,
    sub: str,
    terminal: Document,
    scene: str,
    result: str,
    now: datetime,
    jti: str | None = None,
    source: str = "online",
) -> None:
    scan_id = "scan_" + secrets.token_hex(8)
    store.record_scan(
        _document(scan_id, sub, terminal, scene, result, now, jti, source, f"{source}:{scan_id}")
    )


def use_id(jti: str) -> str:
    """The id of the scan that used the code ``jti``: one per code, online or offline."""
    return "scan_u" + hashlib.sha256(jti.encode()).hexdigest()[:24]


def record_first_use(
    store: IdentityStore, sub: str, terminal: Document, scene: str, jti: str, now: datetime
) -> bool:
    """Record an accepted online scan; False when the code was used before. The scan is
    recorded under the code's use id, which is what makes the code single use, online and
    offline alike: of two simultaneous scans exactly one inserts it, as a code already used
    offline and uploaded has its use recorded."""
    document = _document(use_id(jti), sub, terminal, scene, "ok", now, jti, "online", f"jti:{jti}")
    return store.record_scan(document)


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
        "verifier": {"id": terminal["_id"], "name": shown_name(terminal)},
        "dedupe_key": dedupe_key,
    }


def view(scan: Document) -> dict[str, Any]:
    return to_wire(
        {k: scan[k] for k in ("at", "scene", "result", "source", "verifier")}
        | {"id": scan["_id"], "replaced_card": bool(scan.get("replaced_card"))}
    )


def list_scans(
    store: IdentityStore, guard: Guard, limit: int, before: str | None
) -> dict[str, Any]:
    until = parse_time(before, field="before") if before else None
    limit = max(1, min(int(limit), 100))
    found = [view(s) for s in store.scans_of(guard.mine(), until, limit)]
    return {"items": found, "next_before": found[-1]["at"] if len(found) == limit else None}


def upload_offline_logs(
    store: IdentityStore,
    cache: KeyCache,
    card_keys: KeyCache,
    guard: Guard,
    now: datetime,
    terminal_id: str,
    entries: list[dict[str, Any]],
) -> dict[str, Any]:
    """A terminal's scans made offline. Each entry is refused, with its index and reason,
    when its scene is not one the terminal is registered for (``scene_not_allowed``), its
    time lies ahead of ours by more than the skew (``future``), its code was not signed by
    the key of its time (``forged``) or its time lies outside the code's validity
    (``expired``, or ``clock`` before the code was issued: the terminal's clock is behind);
    the rest are taken. Uploading again is harmless (keyed per terminal and code); a code
    that was used before, online or by another terminal, is recorded as ``replayed`` with
    ``second_use`` set. A printed card is shown again and again: its scans are recorded,
    never counted as a second use."""
    terminal = store.load_account(guard.actor.account_id) if guard.actor.account_id else None
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
            if is_card(entry.get("token")):
                documents.append(_offline_card(store, card_keys, terminal, terminal_id, now, entry))
            else:
                documents.append(_offline_document(store, cache, terminal, terminal_id, now, entry))
        except CodeRefused as refused:
            rejected.append({"index": index, "reason": refused.reason})
        except InvalidInput as invalid:
            reason = invalid.extra.get("code") or "invalid"
            rejected.append({"index": index, "reason": reason, "field": invalid.field})
        except (KeyError, TypeError) as missing:
            rejected.append({"index": index, "reason": "invalid", "field": str(missing)})
    accepted = duplicates = second = replaced = 0
    for document in documents:
        if document["result"] == "ok" and document["source"] == "offline":
            used = _use_offline(store, document)
            if used != "second":
                accepted += used == "first"
                duplicates += used == "again"  # this very scan, uploaded before
                continue
            document.update(result="replayed", second_use=True)
            second += 1
        if store.record_scan(document):
            accepted += 1
            replaced += bool(document.get("replaced_card"))
        else:
            duplicates += 1  # uploaded before
    return {
        "accepted": accepted,
        "duplicates": duplicates,
        "replaced_cards": replaced,
        "second_uses": second,
        "rejected": rejected,
    }


def _use_offline(store: IdentityStore, document: Document) -> str:
    """Record an offline scan the terminal accepted as its code's use: ``first`` (recorded
    now), ``again`` (this very scan was uploaded before) or ``second`` (the code was used
    before, online or by another scan: nothing recorded yet)."""
    first = {**document, "_id": use_id(str(document["jti"]))}
    if store.record_scan(first):
        return "first"
    used = store.load_scan(first["_id"])
    if used is None or used.get("dedupe_key") == document["dedupe_key"]:
        return "again"  # the use is this scan's, or this scan was recorded as a replay
    return "second"


def _offline_document(
    store: IdentityStore,
    cache: KeyCache,
    terminal: Document,
    terminal_id: str,
    now: datetime,
    entry: dict[str, Any],
) -> Document:
    scanned_at, result = _when_and_what(entry, now)
    token = entry["token"]
    every_key = cache.all_keys(store, now, kid_of(token))
    try:
        claims = read_code(token, every_key, scanned_at.timestamp(), leeway=SKEW_SECONDS)
        sub, jti, iat = claims.sub, claims.jti, claims.iat
    except CodeRefused as refused:
        # A scan the terminal refused is recorded as it was (the holder sees it), as long as
        # the code is genuine; one it let through must have been valid at its time.
        if result == "ok" or refused.reason == "forged" or not refused.claims:
            raise
        found = refused.claims
        sub, jti, iat = str(found["sub"]), str(found["jti"]), int(found["iat"])
    if kid_of(token) not in cache.keys_of_time(store, now, datetime.fromtimestamp(iat, UTC)):
        raise CodeRefused("forged")  # a key withdrawn before the code, or not signing then
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


def _when_and_what(entry: dict[str, Any], now: datetime) -> tuple[datetime, str]:
    """An uploaded entry's scan time (``future`` when ahead of ours beyond the skew) and the
    result the terminal gave."""
    scanned_at = parse_time(entry["scanned_at"], field="scanned_at")
    if scanned_at > now + CLOCK_SKEW:
        raise CodeRefused("future")
    result = entry.get("result", "ok")
    if result not in RESULTS:
        raise InvalidInput("unknown result", field="result", code="unknown_result")
    return scanned_at, str(result)


def _offline_card(
    store: IdentityStore,
    card_keys: KeyCache,
    terminal: Document,
    terminal_id: str,
    now: datetime,
    entry: dict[str, Any],
) -> Document:
    """A printed card scanned offline, uploaded within ``UPLOAD_WINDOW``: signed by a card
    key still published, within the card's validity at the scan's time (a scan the terminal
    refused is kept as it was, as long as the card is genuine). One the terminal let through
    is refused as ``revoked`` when the card had been replaced longer before the scan than a
    status list is trusted: no list the terminal could hold then said it was valid."""
    scanned_at, result = _when_and_what(entry, now)
    if scanned_at < now - UPLOAD_WINDOW:
        raise CodeRefused("too_old")
    token = entry["token"]
    keys = card_keys.public_keys(store, now, kid_of(token))
    try:
        cid = read_card(token, keys, scanned_at.timestamp(), SKEW_SECONDS).cid
    except CodeRefused as refused:
        if result == "ok" or refused.reason == "forged" or not refused.claims:
            raise
        cid = str(refused.claims["cid"])
    card = store.load_card(cid)
    if card is None:
        raise CodeRefused("forged")
    revoked_at = card.get("revoked_at")
    if result == "ok" and revoked_at is not None and revoked_at < scanned_at - STATUS_LIFETIME:
        raise CodeRefused("revoked")
    key = f"offline:{terminal['_id']}:{terminal_id}:{cid}:{scanned_at.isoformat()}"
    scan = _document(
        "scan_" + secrets.token_hex(8),
        str(card["sub"]),
        terminal,
        str(entry.get("scene")),
        result,
        scanned_at,
        None,
        "printed_offline",
        key,
    )
    if result == "ok" and revoked_at is not None and revoked_at <= scanned_at:
        # Let through on a list the terminal held from before the card was replaced: kept
        # as it happened, and flagged (the upload counts it; the holder's history shows it).
        scan["replaced_card"] = True
    return scan


def shown_name(terminal: Document) -> str:
    """How a person reads who scanned them: the terminal's name (every verifier has one since
    accounts were named at creation; an older one shows its username)."""
    return str(terminal.get("display_name") or terminal.get("username") or "核验点")
