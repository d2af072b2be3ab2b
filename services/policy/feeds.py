"""Writing facts about subjects from outside: one subject at a time (``PUT``) or a batch of
NDJSON lines. Each write is checked three ways: the writer may reach the subject (staff of its
area, or a partner feed whose area holds it), the subject is one identity registered, and each
fact is one the writer may state (:mod:`services.policy.provenance`), declared, with a value
its kind allows (:mod:`services.policy.fact_kinds`). In a batch, a line that
fails any of these is reported by its number (the same ``unknown subject`` whether it does not
exist or lies outside the feed's area) and the other lines apply."""

from __future__ import annotations

from typing import Any

from services.common.access import Guard
from services.common.codec import parse_time
from services.common.document import Document
from services.common.errors import DomainError, NotFound
from services.policy import access, fact_kinds, facts, provenance, rematch, subjects
from services.policy.work import Work


def source_of(guard: Guard) -> str:
    actor = guard.actor
    return f"partner:{actor.client_id}" if actor.client_id else f"staff:{actor.account_id}"


def known_subject(work: Work, subject: str) -> Document:
    """The subject's facts document, once identity has registered the subject (learnt now if
    its registration has not reached this service yet)."""
    store, now = work.store, work.now
    document = store.load_facts(subject)
    if document is not None and document.get("kind"):
        return document
    brief = work.lookup(subject)
    if brief is None:
        raise NotFound("no such subject", field="subject")
    subjects.learn_profile(
        store, now, {"subject": subject, "kind": brief["kind"], "org_path": brief["org_path"]}
    )
    found = store.load_facts(subject)
    assert found is not None
    return found


def put_facts(work: Work, subject: Any, values: Any, valid_until: str | None) -> dict[str, Any]:
    store, guard, now = work.store, work.guard, work.now
    subject = facts.validate_subject(subject)
    values = facts.validate_values(values)
    until = parse_time(valid_until, "valid_until") if valid_until else None
    document = known_subject(work, subject)
    guard.require(access.subject(document), "no such subject", field="subject")
    source = source_of(guard)
    provenance.require_writable(values, source)
    fact_kinds.check_values(store, values)
    written, changed = facts.put_facts(store, now, subject, values, source, until)
    pushed = rematch.rematch_subject(store, now, subject, changed, written)
    return {
        "subject": subject,
        "changed": changed,
        "pushed": pushed,
        "facts": facts.view(written, now),
    }


def bulk_facts(work: Work, batch_id: str, ndjson: str) -> dict[str, Any]:
    store, guard, now = work.store, work.guard, work.now
    guard.done()  # every line is checked below
    source = source_of(guard)
    earlier = facts.claim_batch(store, now, source, batch_id)
    if earlier is not None:
        return {**earlier, "repeated": True}
    try:
        report = _apply_bulk(work, source, batch_id, ndjson)
    except Exception:
        facts.release_batch(store, source, batch_id)  # never left in progress
        raise
    facts.record_batch(store, now, source, batch_id, report)
    return {**report, "repeated": False}


def _apply_bulk(work: Work, source: str, batch_id: str, ndjson: str) -> dict[str, Any]:
    store, guard, now = work.store, work.guard, work.now
    good, bad = facts.parse_bulk(ndjson)
    applied = 0
    for line, subject, values, until in good:
        try:
            document = known_subject(work, subject)
            if not guard.allows(access.subject(document)):
                raise NotFound("no such subject", field="subject")
            provenance.require_writable(values, source)
            fact_kinds.check_values(store, values)
        except DomainError as refused:
            bad.append({"line": line, "field": refused.extra.get("field"), "detail": str(refused)})
            continue
        written, changed = facts.put_facts(store, now, subject, values, source, until)
        rematch.rematch_subject(store, now, subject, changed, written)
        applied += 1
    bad.sort(key=lambda item: int(item["line"]))
    return {"batch_id": batch_id, "source": source, "applied": applied, "errors": bad}
