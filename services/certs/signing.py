"""Signing certificates: each issuer's electronic seal is an Ed25519 key; a certificate is
signed over its canonical JSON form (sorted keys, no spaces, UTF-8), so anyone holding the
issuer's public key can check every byte of it."""

from __future__ import annotations

import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from services.common.crypto import b64url, b64url_decode

SIGNED_FIELDS = (
    "number",
    "type",
    "issuer",
    "subject",
    "fields",
    "version",
    "valid_from",
    "valid_until",
    "status_index",
    "supersedes",
)


def canonical(document: dict[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def signed_part(certificate: dict[str, Any]) -> dict[str, Any]:
    return {k: certificate.get(k) for k in SIGNED_FIELDS}


def sign(certificate: dict[str, Any], key: Ed25519PrivateKey) -> str:
    return b64url(key.sign(canonical(signed_part(certificate))))


def signature_valid(certificate: dict[str, Any], signature: str, key: Ed25519PublicKey) -> bool:
    try:
        key.verify(b64url_decode(signature), canonical(signed_part(certificate)))
    except (InvalidSignature, ValueError):
        return False
    return True
