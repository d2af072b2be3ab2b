"""The code token: a compact JWS (EdDSA / Ed25519, ``kid`` in the header) carrying only the
pseudonymous ``sub``, the subject type, the assurance level, a random ``jti``, ``iat`` and
``exp``. Nothing about the person is inside.

Pure functions shared by the identity service (online) and the offline verifier; they need
the public keys and a clock, nothing else.
"""

from __future__ import annotations

import binascii
import secrets
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from services.common.crypto import b64url, b64url_decode

SUBJECT_TYPES = {"p": "person", "o": "organisation"}


class CodeRefused(Exception):
    """Why a code is not accepted: ``forged`` or ``expired`` (with the claims when signed)."""

    def __init__(self, reason: str, claims: dict[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.claims = claims


@dataclass(frozen=True)
class CodeClaims:
    sub: str
    subject_type: str
    assurance: int
    jti: str
    iat: int
    exp: int


def sign_code(
    sub: str, kid: str, key: Ed25519PrivateKey, now: int, ttl: int, assurance: int = 2
) -> tuple[str, CodeClaims]:
    claims = CodeClaims(sub, sub[0], assurance, secrets.token_urlsafe(12), now, now + ttl)
    payload = {
        "sub": claims.sub,
        "st": claims.subject_type,
        "al": claims.assurance,
        "jti": claims.jti,
        "iat": claims.iat,
        "exp": claims.exp,
    }
    token = jwt.encode(payload, key, algorithm="EdDSA", headers={"kid": kid, "typ": None})
    return token, claims


def _canonical(token: str) -> bool:
    """Each segment must be the one canonical base64url text of its bytes: otherwise a changed
    last character (whose low bits are padding) could decode to the same bytes and still pass."""
    segments = token.split(".")
    if len(segments) != 3:
        return False
    try:
        return all(b64url(b64url_decode(segment)) == segment for segment in segments)
    except (ValueError, binascii.Error):
        return False


def read_code(
    token: str, keys: dict[str, Ed25519PublicKey], now: float, leeway: int = 0
) -> CodeClaims:
    """Verify signature and expiry; raise :class:`CodeRefused` with the reason."""
    if not isinstance(token, str) or len(token) > 2048 or not _canonical(token):
        raise CodeRefused("forged")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise CodeRefused("forged") from exc
    key = keys.get(str(header.get("kid")))
    if header.get("alg") != "EdDSA" or key is None:
        raise CodeRefused("forged")
    try:
        payload = jwt.decode(
            token,
            key,
            algorithms=["EdDSA"],
            options={"verify_exp": False, "require": ["sub", "jti", "iat", "exp"]},
        )
    except jwt.PyJWTError as exc:
        raise CodeRefused("forged") from exc
    claims = CodeClaims(
        sub=str(payload["sub"]),
        subject_type=str(payload.get("st", "p")),
        assurance=int(payload.get("al", 1)),
        jti=str(payload["jti"]),
        iat=int(payload["iat"]),
        exp=int(payload["exp"]),
    )
    if now > claims.exp + leeway:
        raise CodeRefused("expired", payload)
    return claims
