"""Cryptographic helpers: keyed hashes and sealed fields for personal data, password hashing,
Ed25519 keys as JWKs.

ID numbers and credit codes are stored as ``keyed_hash`` (for lookup) and ``seal`` (for the
rare authorized display); :func:`mask` gives the form shown everywhere else.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def derive_key(secret: str, label: str) -> bytes:
    """A 32-byte key for one purpose (``label``), derived from the deployment secret."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label.encode()).derive(
        secret.encode()
    )


def same(actual: str, expected: str) -> bool:
    """Constant-time equality of two texts, whatever characters a caller sent (the standard
    library's refuses a non-ASCII text with an error, which would be a 500)."""
    return hmac.compare_digest(actual.encode(), expected.encode())


def keyed_hash(key: bytes, value: str) -> str:
    """HMAC-SHA256 of a normalized value: equal inputs give equal lookups, nothing reversible."""
    return hmac.new(key, value.strip().upper().encode(), hashlib.sha256).hexdigest()


def seal(key: bytes, plaintext: str, context: str) -> str:
    """AES-256-GCM; ``context`` (e.g. the record id) is bound as associated data."""
    nonce = secrets.token_bytes(12)
    ciphertext = AESGCM(key).encrypt(nonce, plaintext.encode(), context.encode())
    return "v1." + b64url(nonce + ciphertext)


def unseal(key: bytes, sealed: str, context: str) -> str:
    version, _, body = sealed.partition(".")
    if version != "v1":
        raise ValueError("unknown sealed-field version")
    raw = b64url_decode(body)
    return AESGCM(key).decrypt(raw[:12], raw[12:], context.encode()).decode()


def mask(value: str, keep_start: int = 4, keep_end: int = 4) -> str:
    """``ABCD0123456789WXYZ`` → ``ABCD**********WXYZ``."""
    if len(value) <= keep_start + keep_end:
        return "*" * len(value)
    return value[:keep_start] + "*" * (len(value) - keep_start - keep_end) + value[-keep_end:]


# Passwords: stdlib scrypt (RFC 7914), parameters stored with the hash so they can be raised.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32
    )
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${b64url(salt)}${b64url(digest)}"


def verify_password(password: str, encoded: str) -> bool:
    """Constant-time check; a malformed hash never matches."""
    try:
        scheme, n, r, p, salt, digest = encoded.split("$")
        if scheme != "scrypt":
            return False
        expected = b64url_decode(digest)
        actual = hashlib.scrypt(
            password.encode(),
            salt=b64url_decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


# A hash to check against when the account does not exist, so timing does not reveal it.
DUMMY_PASSWORD_HASH = hash_password(secrets.token_urlsafe(16))


# Ed25519 keys as JWKs (RFC 8037), kid = RFC 7638 thumbprint.


def generate_signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def private_key_bytes(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )


def private_key_from_bytes(raw: bytes) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(raw)


def seal_private_key(wrap_key: bytes, key: Ed25519PrivateKey, kid: str) -> str:
    """A signing key at rest: its raw bytes sealed under ``wrap_key``, bound to its kid."""
    return seal(wrap_key, b64url(private_key_bytes(key)), kid)


def unseal_private_key(wrap_key: bytes, sealed: str, kid: str) -> Ed25519PrivateKey:
    return private_key_from_bytes(b64url_decode(unseal(wrap_key, sealed, kid)))


def public_jwk(key: Ed25519PublicKey) -> dict[str, str]:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    jwk = {"crv": "Ed25519", "kty": "OKP", "x": b64url(raw)}
    thumbprint = hashlib.sha256(json.dumps(jwk, separators=(",", ":"), sort_keys=True).encode())
    return {**jwk, "kid": b64url(thumbprint.digest())[:16], "alg": "EdDSA", "use": "sig"}


def public_key_from_jwk(jwk: dict[str, Any]) -> Ed25519PublicKey:
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise ValueError("not an Ed25519 JWK")
    return Ed25519PublicKey.from_public_bytes(b64url_decode(str(jwk["x"])))


def timestamped_signature(secret: str, timestamp: int, body: bytes) -> str:
    """``t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">``: how we sign webhooks to
    partners and requests to the payment partner (the timestamp bounds a replay)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def timestamped_signature_ok(
    secret: str, header: str, body: bytes, now: int, max_skew: int = 300
) -> bool:
    """The header is :func:`timestamped_signature` of ``body`` made within ``max_skew``
    seconds of ``now`` (an older one is a replay)."""
    try:
        parts = dict(part.split("=", 1) for part in header.split(","))
        stamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if not secret or abs(now - stamp) > max_skew:
        return False
    expected = timestamped_signature(secret, stamp, body)
    return same(expected, f"t={stamp},v1={parts.get('v1', '')}")
