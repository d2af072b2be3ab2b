"""The Ed25519 keys that sign access tokens, shared by every gateway replica.

They live in the gateway's own database, the private halves sealed (AES-GCM) under a key
derived from ``SECRET_KEY``. The first replica to start creates the ring; the others read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from services.common.codec import utcnow
from services.common.crypto import (
    derive_key,
    generate_signing_key,
    public_jwk,
    public_key_from_jwk,
    seal_private_key,
    unseal_private_key,
)
from services.gateway.store import GatewayStore

RING_ID = "access-tokens"


@dataclass(frozen=True)
class KeyRing:
    current_kid: str
    private_key: Ed25519PrivateKey
    public_keys: dict[str, Ed25519PublicKey]
    jwks: list[dict[str, str]]


def _new_entry(wrap_key: bytes) -> dict[str, Any]:
    key = generate_signing_key()
    jwk = public_jwk(key.public_key())
    return {
        "kid": jwk["kid"],
        "jwk": jwk,
        "sealed_private": seal_private_key(wrap_key, key, jwk["kid"]),
        "created_at": utcnow(),
    }


def ring_from_document(document: dict[str, Any], wrap_key: bytes) -> KeyRing:
    entries = {entry["kid"]: entry for entry in document["keys"]}
    current = entries[document["current"]]
    private = unseal_private_key(wrap_key, current["sealed_private"], current["kid"])
    return KeyRing(
        current_kid=current["kid"],
        private_key=private,
        public_keys={kid: public_key_from_jwk(e["jwk"]) for kid, e in entries.items()},
        jwks=[e["jwk"] for e in entries.values()],
    )


async def load_keyring(store: GatewayStore, secret: str) -> KeyRing:
    wrap_key = derive_key(secret, "gateway-token-keys")
    document = await store.load_signing_ring(RING_ID)
    if document is None:
        entry = _new_entry(wrap_key)
        await store.create_signing_ring(RING_ID, {"keys": [entry], "current": entry["kid"]})
        document = await store.load_signing_ring(RING_ID)
    assert document is not None
    return ring_from_document(document, wrap_key)
