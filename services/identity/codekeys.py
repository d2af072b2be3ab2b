"""The Ed25519 keys that sign personal and enterprise codes (a ring of generations,
:mod:`services.common.signing_keys`).

Timing, so that a terminal holding a JWKS fetched minutes earlier never calls a genuine code
forged:

* a rotation publishes the next key at once and lets it sign only ``LEAD`` later: the JWKS's
  cache lifetime (``JWKS_CACHE``, its ``Cache-Control: max-age``) plus the clock skew;
* a key that stopped signing stays published for ``OVERLAP``: the longest code lifetime plus
  the skew, so every code it signed can be checked until it has expired;
* it is never deleted: an offline terminal uploading its day's scans after a rotation has
  each code checked with the key of the code's own time.

A compromised key is withdrawn instead (``compromised``): refused and unpublished at once,
its successor signing from that moment.

Workers share an in-process cache of the ring, reloaded every few seconds.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from services.common import signing_keys
from services.common.crypto import public_key_from_jwk
from services.common.document import Document
from services.identity.store import IdentityStore

CLOCK_SKEW = signing_keys.CLOCK_SKEW  # how far a terminal's clock may be off
SKEW_SECONDS = int(CLOCK_SKEW.total_seconds())
JWKS_CACHE = timedelta(seconds=300)  # what /.well-known/jwks.json tells caches
MAX_CODE_TTL = 300  # seconds (CODE_TTL_SECONDS may be 10 to this)
LEAD = JWKS_CACHE + CLOCK_SKEW
OVERLAP = timedelta(seconds=MAX_CODE_TTL) + CLOCK_SKEW


@dataclass
class KeyCache:
    """The ring's documents, reloaded at most every ``ttl`` seconds; which key signs and
    which are published is worked out from them at each call's own time. The dynamic codes'
    ring by default; the printed cards' ring (``card_keys``) keeps a key published for as
    long as a card it signed is valid (``overlap``)."""

    wrap_key: bytes
    collection: str = "code_keys"
    overlap: timedelta = OVERLAP
    lead: timedelta = LEAD
    prefix: str = ""  # starts every kid of the ring (the cards' ring: ``card-``)
    ttl: float = 5.0
    _loaded_at: float = -1e9
    _documents: list[Document] = field(default_factory=list)
    _private: dict[str, Ed25519PrivateKey] = field(default_factory=dict)
    _public: dict[str, Ed25519PublicKey] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def refresh(self, store: IdentityStore, now: datetime, force: bool = False) -> None:
        if not force and time.monotonic() - self._loaded_at < self.ttl:
            return
        with self._lock:
            self._documents = signing_keys.load(
                store.key_ring(self.collection), self.wrap_key, now, self.prefix
            )
            self._public = {d["_id"]: public_key_from_jwk(d["jwk"]) for d in self._documents}
            self._loaded_at = time.monotonic()

    def rotate(self, store: IdentityStore, now: datetime, compromised: bool) -> signing_keys.Key:
        """The next key: signing after ``lead``, or at once when the signing key is
        compromised (withdrawn: refused and unpublished from now)."""
        keys = store.key_ring(self.collection)
        if compromised:
            key = signing_keys.withdraw(keys, self.wrap_key, now, self.prefix)
        else:
            key = signing_keys.rotate(keys, self.wrap_key, now, self.lead, self.prefix)
        self.refresh(store, now, force=True)
        return key

    def ring(self, store: IdentityStore, now: datetime) -> list[signing_keys.Key]:
        self.refresh(store, now)
        return signing_keys.of_documents(self._documents, now)

    def signing_key(self, store: IdentityStore, now: datetime) -> tuple[str, Ed25519PrivateKey]:
        key = signing_keys.signing(self.ring(store, now), now)
        if key.kid not in self._private:
            self._private[key.kid] = signing_keys.private_key(key, self.wrap_key)
        return key.kid, self._private[key.kid]

    def public_keys(
        self, store: IdentityStore, now: datetime, kid: str | None = None
    ) -> dict[str, Ed25519PublicKey]:
        """The keys a code shown now may carry: those published."""
        if kid is not None and kid not in self._public:
            self.refresh(store, now, force=True)  # a key rotated by another replica
        return self._keys(signing_keys.published(self.ring(store, now), now, self.overlap))

    def keys_of_time(
        self, store: IdentityStore, now: datetime, at: datetime, kid: str | None = None
    ) -> dict[str, Ed25519PublicKey]:
        """The keys that signed at ``at`` (an offline scan's code, uploaded later)."""
        if kid is not None and kid not in self._public:
            self.refresh(store, now, force=True)
        return self._keys(signing_keys.of_time(self.ring(store, now), at))

    def all_keys(
        self, store: IdentityStore, now: datetime, kid: str | None = None
    ) -> dict[str, Ed25519PublicKey]:
        """Every key ever (a code of any time; :meth:`keys_of_time` says whether its key
        was the one signing then)."""
        if kid is not None and kid not in self._public:
            self.refresh(store, now, force=True)
        else:
            self.refresh(store, now)
        return dict(self._public)

    def jwks(self, store: IdentityStore, now: datetime) -> dict[str, Any]:
        published = signing_keys.published(self.ring(store, now), now, self.overlap)
        return {"keys": [k.jwk for k in published]}

    def _keys(self, keys: list[signing_keys.Key]) -> dict[str, Ed25519PublicKey]:
        return {k.kid: self._public[k.kid] for k in keys if k.kid in self._public}
