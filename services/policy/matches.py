"""Reading matches: a subject's match against every published policy of its kind, each check
explained, for the subject (and whoever holds it) or for staff of its area."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.database import Database

from services.common.access import Guard
from services.common.codec import city_day
from services.common.errors import NotFound
from services.common.mongo import Document
from services.policy import access, facts, matching, rematch


def subject_for(db: Database[Document], guard: Guard, subject: Any) -> Document:
    """A subject's facts document, if the operation's rule allows it (404 as if absent)."""
    document = db.facts.find_one({"_id": subject}) if isinstance(subject, str) else None
    if document is None:
        raise NotFound("no such subject")
    guard.require(access.subject(document), "no such subject")
    return document


def of_document(
    db: Database[Document], now: datetime, document: Document | None
) -> list[dict[str, Any]]:
    if document is None or not document.get("kind"):
        return []
    values = facts.with_derived(facts.current(document, now), city_day(now))
    return [
        {"subject": document["_id"], **matching.match(p, values, city_day(now))}
        for p in rematch.published(db, document["kind"])
    ]


def of_subjects(db: Database[Document], now: datetime, subjects: list[str]) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    for subject in subjects:
        results += of_document(db, now, db.facts.find_one({"_id": subject}))
    return results
