"""Rotating Ed25519 signing keys kept in a service's own collection.

One key holds the active slot (a unique index on ``slot``: two workers racing to create one
end with one). Rotating retires it into a slot of its own and keeps it published until
``publish_until``, so whatever it signed still verifies until it expires. Private halves are
sealed under a key the service derives from its secret.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from services.common.crypto import (
    generate_signing_key,
    public_jwk,
    seal_private_key,
    unseal_private_key,
)
from services.common.mongo import Document, Index

ACTIVE = "current"
CLOCK_SKEW = timedelta(seconds=60)


def index(collection: str) -> Index:
    return Index(collection, [("slot", 1)], unique=True)


def new_key_document(wrap_key: bytes, now: datetime) -> Document:
    key = generate_signing_key()
    jwk = public_jwk(key.public_key())
    return {
        "_id": jwk["kid"],
        "slot": ACTIVE,
        "jwk": jwk,
        "sealed_private": seal_private_key(wrap_key, key, jwk["kid"]),
        "created_at": now,
        "retired_at": None,
        "publish_until": None,
    }


def ensure_active_key(keys: Collection[Document], wrap_key: bytes, now: datetime) -> Document:
    active = keys.find_one({"slot": ACTIVE})
    if active is not None:
        return active
    try:
        candidate = new_key_document(wrap_key, now)
        keys.insert_one(candidate)
        return candidate
    except DuplicateKeyError:  # another worker or replica created it first
        found = keys.find_one({"slot": ACTIVE})
        assert found is not None
        return found


def rotate(
    keys: Collection[Document], wrap_key: bytes, now: datetime, longest_lifetime: int
) -> Document:
    """Retire the active key (published until what it signed has expired); activate a new one."""
    old = ensure_active_key(keys, wrap_key, now)
    keys.update_one(
        {"_id": old["_id"], "slot": ACTIVE},
        {
            "$set": {
                "slot": old["_id"],
                "retired_at": now,
                "publish_until": now + timedelta(seconds=longest_lifetime) + CLOCK_SKEW,
            }
        },
    )
    return ensure_active_key(keys, wrap_key, now)


def published(keys: Collection[Document], now: datetime) -> list[Document]:
    return list(
        keys.find({"$or": [{"slot": ACTIVE}, {"publish_until": {"$gt": now}}]}).sort(
            "created_at", -1
        )
    )


def private_key(document: Document, wrap_key: bytes) -> Ed25519PrivateKey:
    return unseal_private_key(wrap_key, document["sealed_private"], document["_id"])
