"""What certs derives once per process: the key that seals issuers' signing keys and the
city wallet's key."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from nameko.extensions import DependencyProvider

from services.certs.store import CertsStore
from services.common import signing_keys
from services.common.config import load_settings
from services.common.crypto import derive_key, public_key_from_jwk


class IssuerKeys(DependencyProvider):  # type: ignore[misc]
    def setup(self) -> None:
        settings = load_settings(self.container.config)
        self.wrap_key = derive_key(settings.SECRET_KEY.get_secret_value(), "certs-issuer-keys")

    def get_dependency(self, worker_ctx: Any) -> bytes:
        return self.wrap_key


class CheckCodeKey(DependencyProvider):  # type: ignore[misc]
    """The key a certificate's printed check code is derived from (never stored per card)."""

    def setup(self) -> None:
        settings = load_settings(self.container.config)
        self.key = derive_key(settings.SECRET_KEY.get_secret_value(), "certs-check-codes")

    def get_dependency(self, worker_ctx: Any) -> bytes:
        return self.key


# Presentations live minutes; the wallet's key is not rotated yet, and a retired one would
# stay published this long after it stopped signing.
WALLET_OVERLAP = timedelta(hours=1)


def wallet_signing_key(store: CertsStore, wrap_key: bytes, now: datetime) -> tuple[str, Any]:
    """The key that signs presentations (the city wallet's), created on first use."""
    active = signing_keys.signer(store.wallet_keys(), wrap_key, now)
    return active.kid, signing_keys.private_key(active, wrap_key)


def wallet_public_keys(
    store: CertsStore, wrap_key: bytes, now: datetime
) -> dict[str, Ed25519PublicKey]:
    return {k.kid: public_key_from_jwk(k.jwk) for k in _published(store, wrap_key, now)}


def wallet_jwks(store: CertsStore, wrap_key: bytes, now: datetime) -> list[dict[str, Any]]:
    return [k.jwk for k in _published(store, wrap_key, now)]


def _published(store: CertsStore, wrap_key: bytes, now: datetime) -> list[signing_keys.Key]:
    ring = signing_keys.ring(store.wallet_keys(), wrap_key, now)
    return signing_keys.published(ring, now, WALLET_OVERLAP)


# What checks a presentation, kept by each process for a minute: neither the wallet's keys
# nor the issuers' seals are withdrawn (a key is only added), and a check that finds a kid
# it does not know reads them again at once (see services.certs.presentations.verify).
KEYS_FOR = 60.0
_LOCK = threading.Lock()
_CHECKING: dict[str, tuple[float, CheckingKeys]] = {}


@dataclass(frozen=True)
class CheckingKeys:
    wallet: dict[str, Ed25519PublicKey]
    issuers: dict[str, Ed25519PublicKey]


def checking_keys(
    store: CertsStore, wrap_key: bytes, now: datetime, fresh: bool = False
) -> CheckingKeys:
    """The wallet's published keys and every issuer's seal, by kid."""
    clock = time.monotonic()
    with _LOCK:
        cached = _CHECKING.get(store.name)
    if cached is not None and not fresh and clock - cached[0] < KEYS_FOR:
        return cached[1]
    keys = CheckingKeys(
        wallet=wallet_public_keys(store, wrap_key, now),
        issuers={i["jwk"]["kid"]: public_key_from_jwk(i["jwk"]) for i in store.issuers({"jwk": 1})},
    )
    with _LOCK:
        _CHECKING[store.name] = (clock, keys)
    return keys
