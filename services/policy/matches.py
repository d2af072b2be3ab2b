"""Reading matches: a subject's match against every published policy of its kind, each check
explained, for the subject (and whoever holds it) or for staff of its area."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.common.access import Guard
from services.common.codec import city_day
from services.common.document import Document
from services.common.errors import NotFound
from services.policy import access, catalogue, facts, matching
from services.policy.store import PolicyStore


def subject_for(store: PolicyStore, guard: Guard, subject: Any) -> Document:
    """A subject's facts document, if the operation's rule allows it (404 as if absent)."""
    document = store.load_facts(subject) if isinstance(subject, str) else None
    if document is None:
        raise NotFound("no such subject")
    guard.require(access.subject(document), "no such subject")
    return document


def facts_of(store: PolicyStore, guard: Guard, now: datetime, subject: Any) -> dict[str, Any]:
    """A subject's facts, each with its source and whether it is in force."""
    return facts.view(subject_for(store, guard, subject), now)


def of_subject(
    store: PolicyStore, guard: Guard, now: datetime, subject: Any
) -> list[dict[str, Any]]:
    """A subject's matches, if the operation's rule allows it (404 as if absent)."""
    return of_document(store, now, subject_for(store, guard, subject))


def of_document(
    store: PolicyStore, now: datetime, document: Document | None
) -> list[dict[str, Any]]:
    if document is None or not document.get("kind"):
        return []
    values = facts.with_derived(facts.current(document, now), city_day(now))
    return [
        {"subject": document["_id"], **matching.match(p, values, city_day(now))}
        for p in catalogue.published(store, document["kind"])
    ]


def of_subjects(store: PolicyStore, now: datetime, subjects: list[str]) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    for subject in subjects:
        results += of_document(store, now, store.load_facts(subject))
    return results
