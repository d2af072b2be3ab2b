"""Reading matches: a subject's match against every published policy of its kind, each check
explained, for the subject (and whoever holds it) or for staff of its area."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.common.codec import city_day
from services.common.document import Document
from services.common.errors import NotFound
from services.policy import access, catalogue, facts, matching
from services.policy.store import PolicyStore
from services.policy.work import Work


def subject_for(work: Work, subject: Any) -> Document:
    """A subject's facts document, if the operation's rule allows it (404 as if absent)."""
    document = work.store.load_facts(subject) if isinstance(subject, str) else None
    if document is None:
        raise NotFound("no such subject")
    work.guard.require(access.subject(document), "no such subject")
    return document


def facts_of(work: Work, subject: Any) -> dict[str, Any]:
    """A subject's facts, each with its source and whether it is in force."""
    return facts.view(subject_for(work, subject), work.now)


def of_subject(work: Work, subject: Any) -> list[dict[str, Any]]:
    """A subject's matches, if the operation's rule allows it (404 as if absent)."""
    return of_document(work.store, work.now, subject_for(work, subject))


def mine(work: Work) -> list[dict[str, Any]]:
    """The matches of the subjects the caller is (or acts for)."""
    return of_subjects(work.store, work.now, work.guard.mine())


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
