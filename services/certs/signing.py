"""Signing certificates: each issuer's electronic seal is an Ed25519 key.

The seal covers the certificate's canonical JSON (sorted keys, no spaces, UTF-8) in which the
fields appear only as salted digests, ``sha256(canonical([salt, name, value]))``, as SD-JWT
and ISO mDL do: the holder can later reveal some fields (with their salts) and a verifier
checks each revealed value against the sealed digests without seeing the others.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from services.common.crypto import b64url, b64url_decode

SEALED = (
    "number",
    "type",
    "issuer",
    "subject",
    "version",
    "valid_from",
    "valid_until",
    "status_index",
    "supersedes",
)


def canonical(document: Any) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def new_salts(fields: dict[str, Any]) -> dict[str, str]:
    return {name: b64url(secrets.token_bytes(16)) for name in fields}


def field_digest(salt: str, name: str, value: Any) -> str:
    return b64url(hashlib.sha256(canonical([salt, name, value])).digest())


def sealed_part(certificate: dict[str, Any]) -> dict[str, Any]:
    """What the seal covers: the certificate's identity and validity, and one digest per field."""
    digests = sorted(
        field_digest(certificate["salts"][name], name, value)
        for name, value in certificate["fields"].items()
    )
    return {**{k: certificate.get(k) for k in SEALED}, "field_digests": digests}


def sign(certificate: dict[str, Any], key: Ed25519PrivateKey) -> str:
    return b64url(key.sign(canonical(sealed_part(certificate))))


def seal_valid(sealed: dict[str, Any], signature: str, key: Ed25519PublicKey) -> bool:
    try:
        key.verify(b64url_decode(signature), canonical(sealed))
    except (InvalidSignature, ValueError):
        return False
    return True


def signature_valid(certificate: dict[str, Any], signature: str, key: Ed25519PublicKey) -> bool:
    return seal_valid(sealed_part(certificate), signature, key)
