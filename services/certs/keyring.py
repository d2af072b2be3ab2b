"""What certs derives once per process: the key that seals issuers' signing keys and the
city wallet's key."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from nameko.extensions import DependencyProvider
from pymongo.database import Database

from services.common import signing_keys
from services.common.config import load_settings
from services.common.crypto import derive_key, public_key_from_jwk
from services.common.mongo import Document


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


def wallet_signing_key(db: Database[Document], wrap_key: bytes, now: datetime) -> tuple[str, Any]:
    """The key that signs presentations (the city wallet's), created on first use."""
    active = signing_keys.ensure_active_key(db.wallet_keys, wrap_key, now)
    return active["_id"], signing_keys.private_key(active, wrap_key)


def wallet_public_keys(db: Database[Document], now: datetime) -> dict[str, Ed25519PublicKey]:
    return {
        k["_id"]: public_key_from_jwk(k["jwk"]) for k in signing_keys.published(db.wallet_keys, now)
    }


def wallet_jwks(db: Database[Document], now: datetime) -> list[dict[str, Any]]:
    return [k["jwk"] for k in signing_keys.published(db.wallet_keys, now)]
