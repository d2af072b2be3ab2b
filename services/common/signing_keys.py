"""A ring of Ed25519 signing keys kept in a service's own collection, one generation after
another, rotated so that nobody who verifies is ever surprised.

Each key is a generation (``slot`` ``g<n>``, unique: of two rotations at once one inserts)
with the moment it starts signing, ``signs_from``. The signer is the newest generation whose
moment has come. A rotation adds the next generation with ``signs_from`` a *lead* ahead:
published at once, it signs nothing until every verifier that caches the published keys for
at most that long has fetched it. A key stops signing when the next one starts, and stays
published for an *overlap* longer (the life of what it signed, plus clock skew). It is never
deleted: a scan uploaded days later is checked with the key of its time (:func:`of_time`).

A key found compromised is withdrawn: unpublished and refused at once, its successor signing
from now. Private halves are sealed under a key the service derives from its secret.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from services.common.crypto import (
    generate_signing_key,
    public_jwk,
    seal_private_key,
    unseal_private_key,
)
from services.common.document import Document
from services.common.errors import Conflict
from services.common.mongo import Index

CLOCK_SKEW = timedelta(seconds=30)
LEGACY_ACTIVE = "current"  # the slot of the signing key before keys had generations


def index(collection: str) -> Index:
    return Index(collection, [("slot", 1)], unique=True)


class KeyRing(Protocol):
    """Where a ring's key documents are kept (a service's store hands one out)."""

    def documents(self) -> list[Document]: ...

    def in_slot(self, slot: str) -> Document | None: ...

    def add(self, document: Document) -> bool:
        """False when a key of that slot (or id) exists: of two rotations at once one adds."""
        ...

    def change(self, kid: str, changes: Document) -> None: ...


@dataclass(frozen=True)
class CollectionRing:
    """A ring kept in a collection of its own (``slot`` a unique key)."""

    collection: Collection[Document]

    def documents(self) -> list[Document]:
        return list(self.collection.find({}))

    def in_slot(self, slot: str) -> Document | None:
        return self.collection.find_one({"slot": slot})

    def add(self, document: Document) -> bool:
        try:
            self.collection.insert_one(document)
        except DuplicateKeyError:
            return False
        return True

    def change(self, kid: str, changes: Document) -> None:
        self.collection.update_one({"_id": kid}, {"$set": changes})


@dataclass(frozen=True)
class Key:
    document: Document
    generation: int
    signs_from: datetime
    signs_until: datetime | None  # when the next generation started (None: still signing)
    withdrawn_at: datetime | None

    @property
    def kid(self) -> str:
        return str(self.document["_id"])

    @property
    def jwk(self) -> dict[str, str]:
        return dict(self.document["jwk"])

    def published(self, now: datetime, overlap: timedelta) -> bool:
        if self.withdrawn_at is not None:
            return False
        return self.signs_until is None or now < self.signs_until + overlap

    def signed_at(self, at: datetime) -> bool:
        """Whether this key was the one signing at ``at`` (give or take the clock skew)."""
        if self.withdrawn_at is not None and at >= self.withdrawn_at:
            return False
        if at < self.signs_from - CLOCK_SKEW:
            return False
        return self.signs_until is None or at <= self.signs_until + CLOCK_SKEW


def of_documents(documents: list[Document], now: datetime) -> list[Key]:
    """The ring as it stands at ``now``, oldest generation first (a cache keeps the
    documents and asks again as time passes)."""
    ordered = sorted(documents, key=lambda d: _generation(d) or 0)
    found = []
    for position, document in enumerate(ordered):
        later = (_aware(d["signs_from"]) for d in ordered[position + 1 :])
        started = [at for at in later if at <= now]
        withdrawn = document.get("withdrawn_at")
        found.append(
            Key(
                document=document,
                generation=_generation(document) or 0,
                signs_from=_aware(document["signs_from"]),
                signs_until=min(started) if started else None,
                withdrawn_at=_aware(withdrawn) if withdrawn else None,
            )
        )
    return found


def load(keys: KeyRing, wrap_key: bytes, now: datetime, prefix: str = "") -> list[Document]:
    """Every key's document; generation 0 is made when there is none. ``prefix`` starts
    the kid of every key of the ring (a ring sharing a JWKS with another, told apart)."""
    documents = [d for d in keys.documents() if _generation(d) is not None]
    return documents or [_first(keys, wrap_key, now, prefix)]


def ring(keys: KeyRing, wrap_key: bytes, now: datetime) -> list[Key]:
    return of_documents(load(keys, wrap_key, now), now)


def signer(keys: KeyRing, wrap_key: bytes, now: datetime) -> Key:
    return signing(ring(keys, wrap_key, now), now)


def signing(ring: list[Key], now: datetime) -> Key:
    """Of ``ring``, the key that signs at ``now``: the newest generation whose moment has
    come and that is not withdrawn."""
    due = [k for k in ring if k.signs_from <= now and k.withdrawn_at is None]
    if not due:
        raise Conflict("no signing key: every key is withdrawn or not yet due")
    return due[-1]


def published(ring: list[Key], now: datetime, overlap: timedelta) -> list[Key]:
    """What verifiers should hold now, newest first: the signer, the next generation (ahead
    of its moment) and the keys that signed within the last ``overlap``."""
    return [k for k in reversed(ring) if k.published(now, overlap)]


def of_time(ring: list[Key], at: datetime) -> list[Key]:
    """The keys that may have signed something at ``at`` (a code in a scan uploaded later)."""
    return [k for k in ring if k.signed_at(at)]


def rotate(keys: KeyRing, wrap_key: bytes, now: datetime, lead: timedelta, prefix: str = "") -> Key:
    """Add the next generation, signing from ``now + lead``; 409 while one is still ahead."""
    latest = of_documents(load(keys, wrap_key, now, prefix), now)[-1]
    if latest.signs_from > now:
        raise Conflict(
            "a new key already takes over at " + latest.signs_from.isoformat(), state="rotating"
        )
    return _add(keys, wrap_key, now, latest.generation + 1, now + lead, prefix)


def withdraw(keys: KeyRing, wrap_key: bytes, now: datetime, prefix: str = "") -> Key:
    """The signing key was compromised: refused and unpublished from now (with any
    generation still ahead of its moment); a new generation signs at once."""
    current = of_documents(load(keys, wrap_key, now, prefix), now)
    compromised = signing(current, now)
    for key in current:
        if key.kid == compromised.kid or key.signs_from > now:
            keys.change(key.kid, {"withdrawn_at": now})
    return _add(keys, wrap_key, now, current[-1].generation + 1, now, prefix)


def private_key(key: Key, wrap_key: bytes) -> Ed25519PrivateKey:
    return unseal_private_key(wrap_key, key.document["sealed_private"], key.kid)


def _add(
    keys: KeyRing,
    wrap_key: bytes,
    now: datetime,
    generation: int,
    at: datetime,
    prefix: str,
) -> Key:
    document = _new_document(wrap_key, now, generation, at, prefix)
    if not keys.add(document):
        raise Conflict("another rotation happened at the same time", state="rotating")
    return next(k for k in ring(keys, wrap_key, now) if k.kid == document["_id"])


def _first(keys: KeyRing, wrap_key: bytes, now: datetime, prefix: str) -> Document:
    """Generation 0: the signing key of before generations when there is one (kept, so what
    it signed still verifies), else a new key. Of two workers at once, one inserts."""
    legacy = keys.in_slot(LEGACY_ACTIVE)
    if legacy is not None:
        changes = {"slot": "g0", "generation": 0, "signs_from": legacy["created_at"]}
        keys.change(legacy["_id"], {**changes, "withdrawn_at": None})
        return {**legacy, **changes, "withdrawn_at": None}
    document = _new_document(wrap_key, now, 0, now, prefix)
    if not keys.add(document):
        found = keys.in_slot("g0")
        assert found is not None
        return found
    return document


def _generation(document: Document) -> int | None:
    value = document.get("generation")
    return int(value) if isinstance(value, int) else None


def _new_document(
    wrap_key: bytes, now: datetime, generation: int, at: datetime, prefix: str
) -> Document:
    key = generate_signing_key()
    jwk = public_jwk(key.public_key())
    jwk["kid"] = prefix + jwk["kid"]
    return {
        "_id": jwk["kid"],
        "slot": f"g{generation}",
        "generation": generation,
        "jwk": jwk,
        "sealed_private": seal_private_key(wrap_key, key, jwk["kid"]),
        "created_at": now,
        "signs_from": at,
        "withdrawn_at": None,
    }


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)
