"""The code token: a compact JWS (EdDSA / Ed25519, ``kid`` in the header) carrying only the
pseudonymous ``sub``, the subject type, the assurance level, a random ``jti``, ``iat`` and
``exp``. Nothing about the person is inside.

Pure functions shared by the identity service (online) and the offline verifier; they need
the public keys and a clock, nothing else.
"""

from __future__ import annotations

import binascii
import json
import secrets
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from services.common.crypto import b64url, b64url_decode

SUBJECT_TYPES = {"p": "person", "o": "organisation"}


class CodeRefused(Exception):
    """Why a code is not accepted: ``forged``, ``expired`` or ``clock`` (issued after the
    checking clock's now: that clock is behind), with the claims when it was signed."""

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


def _segment(text: str) -> bytes:
    """Decode one base64url segment, refusing any text that is not the canonical encoding of
    its bytes (a changed last character whose low bits are padding would otherwise decode to
    the same bytes and still verify)."""
    raw = b64url_decode(text)
    if b64url(raw) != text:
        raise ValueError("non-canonical base64url")
    return raw


def read_code(
    token: str,
    keys: dict[str, Ed25519PublicKey],
    now: float,
    leeway: int = 0,
    ahead: int | None = None,
) -> CodeClaims:
    """Verify a compact JWS code: EdDSA only, a known kid, the signature, then the time: the
    expiry with ``leeway`` seconds of grace (a terminal's clock may be behind), the issue
    time at most ``ahead`` seconds (default ``leeway``) in this clock's future. Raise
    :class:`CodeRefused` with the reason."""
    if not isinstance(token, str) or len(token) > 2048 or token.count(".") != 2:
        raise CodeRefused("forged")
    header_text, payload_text, signature_text = token.split(".")
    try:
        header = json.loads(_segment(header_text))
        key = keys.get(str(header.get("kid")))
        # A typed token (a printed card, a status list) is never a dynamic code.
        if header.get("alg") != "EdDSA" or key is None or "crit" in header or "typ" in header:
            raise CodeRefused("forged")
        key.verify(_segment(signature_text), f"{header_text}.{payload_text}".encode())
        payload = json.loads(_segment(payload_text))
        claims = CodeClaims(
            sub=str(payload["sub"]),
            subject_type=str(payload.get("st", "p")),
            assurance=int(payload.get("al", 1)),
            jti=str(payload["jti"]),
            iat=int(payload["iat"]),
            exp=int(payload["exp"]),
        )
    except CodeRefused:
        raise
    except (
        ValueError,
        KeyError,
        TypeError,
        AttributeError,
        binascii.Error,
        InvalidSignature,
    ) as exc:
        raise CodeRefused("forged") from exc
    if now > claims.exp + leeway:
        raise CodeRefused("expired", payload)
    if now < claims.iat - (leeway if ahead is None else ahead):  # this clock is behind
        raise CodeRefused("clock", payload)
    return claims


def kid_of(token: Any) -> str | None:
    """The header's ``kid`` (unverified: to choose keys; :func:`read_code` verifies)."""
    if not isinstance(token, str) or token.count(".") != 2:
        return None
    try:
        header = json.loads(_segment(token.split(".")[0]))
    except (ValueError, binascii.Error):
        return None
    kid = header.get("kid") if isinstance(header, dict) else None
    return kid if isinstance(kid, str) else None
