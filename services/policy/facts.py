"""Facts about subjects (主体画像): named values with their source, as-of time and
valid-until, kept per subject in one document (read by ``_id``).

Sources: ``identity`` (subject type, org unit, birth date → age), ``certs`` (a disability
certificate's category and grade, being a high-tech enterprise, licences held), partner feeds
(revenue, tax paid, employees, low-income status …) and ``correction`` (a subject's disputed
fact, accepted by staff). A fact past its valid-until is unknown, not stale-but-true.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from services.common.codec import parse_time, to_wire
from services.common.document import Document
from services.common.errors import Conflict, InvalidInput
from services.policy.store import PolicyStore

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}\Z")
_SUBJECT = re.compile(r"^[po]_[A-Za-z0-9_-]{4,60}\Z")
MAX_BULK_LINES = 100_000
BATCH_STUCK_AFTER = timedelta(minutes=2)  # then taken over: a second pass writes the same facts


def validate_subject(subject: Any, field: str = "subject") -> str:
    if not isinstance(subject, str) or not _SUBJECT.match(subject):
        raise InvalidInput("a subject id (p_… or o_…)", field=field)
    return subject


# Facts are compared and summed as exact numbers: beyond 2^53 a float no longer holds every
# integer, and NaN or infinity compare as nothing does.
MAX_MAGNITUDE = 2**53
MAX_TEXT = 1000
MAX_LIST = 100


def _plain(value: Any) -> bool:
    if isinstance(value, bool) or value is None:
        return True
    if isinstance(value, int):
        return -MAX_MAGNITUDE <= value <= MAX_MAGNITUDE
    if isinstance(value, float):
        return math.isfinite(value) and abs(value) <= MAX_MAGNITUDE
    return isinstance(value, str) and len(value) <= MAX_TEXT


def validate_values(values: Any, field: str = "facts") -> dict[str, Any]:
    if not isinstance(values, dict) or not values:
        raise InvalidInput("an object of fact name → value", field=field)
    if len(values) > 200:
        raise InvalidInput("at most 200 facts at once", field=field)
    for name, value in values.items():
        if not isinstance(name, str) or not _NAME.match(name):
            raise InvalidInput("lowercase letters, digits and _", field=f"{field}.{name}")
        items = value if isinstance(value, list) else [value]
        if (isinstance(value, list) and len(value) > MAX_LIST) or not all(_plain(v) for v in items):
            raise InvalidInput(
                "a finite number within ±2^53, a text of up to 1,000 characters, true/false, "
                "or a list of up to 100 of them",
                field=f"{field}.{name}",
            )
    return values


def current(document: Document | None, on: datetime) -> dict[str, Any]:
    """The facts in force at ``on`` (name → value)."""
    if not document:
        return {}
    result = {}
    for name, fact in (document.get("values") or {}).items():
        until = fact.get("valid_until")
        if until is None or until > on:
            result[name] = fact["value"]
    return result


def with_derived(values: dict[str, Any], on: date) -> dict[str, Any]:
    """Facts computed from others: ``age`` from ``birth_date``."""
    born = values.get("birth_date")
    if isinstance(born, str) and "age" not in values:
        try:
            birth = date.fromisoformat(born)
        except ValueError:
            return values
        years = on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
        return {**values, "age": years}
    return values


def put_facts(
    store: PolicyStore,
    now: datetime,
    subject: str,
    values: dict[str, Any],
    source: str,
    valid_until: datetime | None = None,
    profile: dict[str, Any] | None = None,
    forget: Sequence[str] = (),
) -> tuple[Document, list[str]]:
    """Set facts, and forget those named in ``forget`` (a revoked certificate's: they become
    unknown), in one change; returns the document and the names whose value changed or
    were forgotten. Nothing to change, nothing is written."""
    for _attempt in range(10):
        document = store.load_facts(subject)
        if document is None:  # a first writer; of two at once, either one's insert will do
            store.insert_facts({"_id": subject, "values": {}, "rev": 0, **(profile or {})})
            continue
        old = current(document, now)
        changed = [name for name, value in values.items() if old.get(name) != value]
        stored = document.get("values") or {}
        gone = [name for name in forget if name in stored and name not in values]
        update: Document = {}
        sets: Document = {
            f"values.{name}": {
                "value": value,
                "source": source,
                "as_of": now,
                "valid_until": valid_until,
            }
            for name, value in values.items()
        }
        if profile:
            sets.update({k: v for k, v in profile.items() if document.get(k) != v})
        if sets:
            update["$set"] = sets
        if gone:
            update["$unset"] = {f"values.{name}": "" for name in gone}
            update.setdefault("$set", {})["last_removed_by"] = source
        if not update:
            return document, []
        try:
            return store.advance_facts(document, update, now), changed + gone
        except Conflict:
            continue  # another feed wrote this subject at the same moment: read it again
    raise Conflict("this subject's facts are being written by many at once; retry")


def parse_bulk(
    text: str,
) -> tuple[list[tuple[int, str, dict[str, Any], datetime | None]], list[dict[str, Any]]]:
    """NDJSON lines ``{"subject": …, "facts": {…}, "valid_until": …}``: the good ones, and an
    error for each bad one by line number (the rest still apply)."""
    good, bad = [], []
    lines = text.splitlines()
    if len(lines) > MAX_BULK_LINES:
        raise InvalidInput(f"at most {MAX_BULK_LINES} lines per batch", field="body")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            if not isinstance(item, dict):
                raise InvalidInput("a JSON object per line", field="line")
            subject = validate_subject(item.get("subject"))
            values = validate_values(item.get("facts"))
            until = (
                parse_time(item["valid_until"], "valid_until") if item.get("valid_until") else None
            )
        except (json.JSONDecodeError, RecursionError):
            bad.append({"line": number, "detail": "not JSON"})
            continue
        except InvalidInput as exc:
            bad.append(
                {"line": number, "field": exc.extra.get("field"), "detail": str(exc.args[0])}
            )
            continue
        good.append((number, subject, values, until))
    return good, bad


def claim_batch(store: PolicyStore, now: datetime, source: str, batch_id: str) -> Document | None:
    """None when this (source, batch id) is new; else the report of its first upload."""
    if not isinstance(batch_id, str) or not re.fullmatch(r"[A-Za-z0-9._:-]{1,64}", batch_id):
        raise InvalidInput("1–64 letters, digits or . _ : -", field="batch_id")
    key = f"facts-batch:{source}:{batch_id}"
    if store.claim(key, now):
        return None
    earlier = store.load_fact_batch(key)
    if earlier is not None:
        return to_wire(earlier["report"])
    held = store.claimed(key)
    at = held["at"] if held else now
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    # A batch whose worker stopped before its report is taken over by the next upload of it
    # (once per period: the takeover is itself a claim); its lines again write the same facts.
    period = int(now.timestamp() // BATCH_STUCK_AFTER.total_seconds())
    if at <= now - BATCH_STUCK_AFTER and store.claim(f"{key}:after:{period}", now):
        return None
    return {"status": "in_progress", "retry_after": int(BATCH_STUCK_AFTER.total_seconds())}


def release_batch(store: PolicyStore, source: str, batch_id: str) -> None:
    """A batch that failed midway (an error not of a line) may be uploaded again at once."""
    store.release_claim(f"facts-batch:{source}:{batch_id}")


def record_batch(
    store: PolicyStore, now: datetime, source: str, batch_id: str, report: dict[str, Any]
) -> None:
    store.record_fact_batch(
        {"_id": f"facts-batch:{source}:{batch_id}", "at": now, "report": report}
    )


def view(document: Document | None, now: datetime) -> dict[str, Any]:
    values = (document or {}).get("values") or {}
    return to_wire(
        {
            name: {**fact, "in_force": fact.get("valid_until") is None or fact["valid_until"] > now}
            for name, fact in sorted(values.items())
        }
    )
