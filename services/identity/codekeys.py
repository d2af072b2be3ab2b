"""The Ed25519 keys that sign personal and enterprise codes.

One key is active (it signs new codes); a rotated key stays published in the JWKS until every
code it signed has expired (``publish_until`` = rotation time + the longest code lifetime +
clock skew), so offline terminals keep accepting codes issued just before a rotation.

Keys live in identity's ``code_keys``, private halves sealed under a key derived from
``SECRET_KEY``. Workers share an in-process cache refreshed every few seconds.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pymongo.database import Database

from services.common import signing_keys
from services.common.crypto import public_key_from_jwk
from services.common.mongo import Document

CLOCK_SKEW = signing_keys.CLOCK_SKEW


def ensure_active_key(db: Database[Document], wrap_key: bytes, now: datetime) -> Document:
    return signing_keys.ensure_active_key(db.code_keys, wrap_key, now)


def rotate(db: Database[Document], wrap_key: bytes, now: datetime, max_code_ttl: int) -> Document:
    """Retire the active key (still published until its codes expire) and activate a new one."""
    return signing_keys.rotate(db.code_keys, wrap_key, now, max_code_ttl)


def published(db: Database[Document], now: datetime) -> list[Document]:
    return signing_keys.published(db.code_keys, now)


@dataclass
class KeyCache:
    """Signing key and verification keys, reloaded at most every ``ttl`` seconds."""

    wrap_key: bytes
    ttl: float = 5.0
    _loaded_at: float = -1e9
    _signing: tuple[str, Ed25519PrivateKey] | None = None
    _public: dict[str, Ed25519PublicKey] = field(default_factory=dict)
    _jwks: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def refresh(self, db: Database[Document], now: datetime, force: bool = False) -> None:
        if not force and time.monotonic() - self._loaded_at < self.ttl:
            return
        with self._lock:
            active = ensure_active_key(db, self.wrap_key, now)
            keys = published(db, now)
            private = signing_keys.private_key(active, self.wrap_key)
            self._signing = (active["_id"], private)
            self._public = {k["_id"]: public_key_from_jwk(k["jwk"]) for k in keys}
            self._jwks = [k["jwk"] for k in keys]
            self._loaded_at = time.monotonic()

    def signing_key(self, db: Database[Document], now: datetime) -> tuple[str, Ed25519PrivateKey]:
        self.refresh(db, now)
        assert self._signing is not None
        return self._signing

    def public_keys(
        self, db: Database[Document], now: datetime, kid: str | None = None
    ) -> dict[str, Ed25519PublicKey]:
        self.refresh(db, now)
        if kid is not None and kid not in self._public:
            self.refresh(db, now, force=True)  # a key rotated by another replica
        return self._public

    def jwks(self, db: Database[Document], now: datetime) -> dict[str, Any]:
        self.refresh(db, now)
        return {"keys": list(self._jwks)}
