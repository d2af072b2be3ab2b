"""A type a person holds once (the disability certificate): at most one valid certificate
per holder. Issuing another while one is valid (or suspended) is refused with 409 naming it;
the way to change it is an amendment (a new version of the same number).

The holding is a document per (type, holder) naming the number held, written compare-and-
set (:func:`services.common.claims.advance`, or an insert for the first): of two clerks
issuing to one person at the same moment, one issues and the other gets 409. A holding whose
certificate was revoked or has expired no longer holds, and the next issue takes it over.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from services.certs.store import CertsStore
from services.common.document import Document
from services.common.errors import Conflict

HOLDING = ("valid", "suspended", "not_yet_valid")  # a certificate in these states is held
ABANDONED_AFTER = timedelta(minutes=1)  # an issue takes milliseconds between its two writes


def take(
    store: CertsStore,
    cert_type: Document,
    subject: str,
    number: str,
    now: datetime,
    status_of: Any,
) -> None:
    """Make ``number`` the holder's certificate of ``cert_type``, or refuse (409) while
    another is held. ``status_of(certificate)`` is its status today."""
    if not cert_type.get("once_per_holder"):
        return
    key = f"{cert_type['_id']}:{subject}"
    held = store.load_holding(key)
    if held is None:
        if not store.insert_holding({"_id": key, "number": number, "at": now, "rev": 0}):
            raise _refused()
        return
    if held["number"] == number:
        return
    current = store.latest_version(held["number"])
    if current is None:
        # Taken by an issue still under way (its certificate is written just after): held,
        # unless that issue stopped before writing it long ago.
        at = held["at"] if held["at"].tzinfo else held["at"].replace(tzinfo=UTC)
        if at > now - ABANDONED_AFTER:
            raise _refused()
    elif status_of(current) in HOLDING:
        raise _refused()
    try:
        store.advance_holding(held, {"$set": {"number": number, "at": now}}, now)
    except Conflict as exc:
        raise _refused() from exc  # another issue took it at the same moment


def _refused() -> Conflict:
    return Conflict(
        "this person already holds a valid certificate of this type; amend it instead",
        code="already_held",
    )
