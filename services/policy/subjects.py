"""What the policy service learns of subjects from the other services: each subject's kind
and unit from identity (on its registration, and by catching up on those registered while
this service was not listening), and the facts its certificates give (issued, amended,
revoked), each in the certificate's own order. Every change re-matches the subject against
the published policies."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from pymongo.database import Database

from services.common.mongo import Document, put_document
from services.policy import certfacts, facts, rematch

Profile = dict[str, Any]
PAGE = 500


def learn_profile(db: Database[Document], now: datetime, profile: Profile) -> None:
    values = {"subject_type": profile["kind"], "org_unit": profile["org_path"]}
    if profile.get("birth_date"):
        values["birth_date"] = profile["birth_date"]
    document, changed = facts.put_facts(
        db,
        now,
        profile["subject"],
        values,
        "identity",
        profile={"kind": profile["kind"], "org_path": profile["org_path"]},
    )
    rematch.rematch_subject(db, now, profile["subject"], changed or None, document)


def catch_up(
    db: Database[Document], now: datetime, profiles_after: Callable[[str, int], list[Profile]]
) -> None:
    """The next page of subjects after the last one learnt (``profiles_after(subject,
    limit)`` asks identity), then the cursor moves past it."""
    state = db.sync_state.find_one({"_id": "subjects"}) or {"after": ""}
    page = profiles_after(state["after"], PAGE)
    for profile in page:
        learn_profile(db, now, profile)
    if page:
        put_document(db.sync_state, "subjects", {"after": page[-1]["subject"]})


def learn_certificate(
    db: Database[Document], now: datetime, event_type: str, payload: dict[str, Any]
) -> None:
    subject = str(payload["subject"])
    if not _newer(db, event_type, payload):
        return  # a late event: a later change of this certificate was learnt already
    values, forget = certfacts.facts_from(event_type, payload)
    kind = "person" if subject.startswith("p_") else "organisation"
    _doc, changed = facts.put_facts(db, now, subject, values, "certs", profile={"kind": kind})
    changed += facts.remove_facts(db, now, subject, forget, "certs")
    rematch.rematch_subject(db, now, subject, changed)


def _newer(db: Database[Document], event_type: str, payload: dict[str, Any]) -> bool:
    """Whether this event is later than the last one learnt of the subject's certificate of
    its type (events leave at least once and two relays may swap two of them): by version,
    then revision, expiry after the revision it found. Remembers it when it is."""
    key = f"{payload['subject']}:{payload['type']}"
    order = [
        int(payload.get("version") or 1),
        int(payload.get("rev") or 0),
        1 if event_type == "cert_expired" else 0,
    ]
    seen = db.cert_order.find_one({"_id": key}) or {}
    # (the same again is learnt again: it changes nothing)
    if seen.get("number") == payload.get("number") and list(seen["order"]) > order:
        return False
    put_document(db.cert_order, key, {"number": payload.get("number"), "order": order})
    return True
