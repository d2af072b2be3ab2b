"""Token Status List (IETF OAuth, draft-ietf-oauth-status-list): the status of many tokens in
one signed, compressed list that a verifier downloads once and reads offline.

Each referenced token carries ``status: {status_list: {idx, uri}}``; the list is a JWT of
``typ: statuslist+jwt`` whose ``status_list`` claim holds ``bits`` (1, 2, 4 or 8 per token)
and ``lst``: the status values packed from the least significant bits of each byte up
(token 0 in the lowest ``bits`` bits of byte 0), ZLIB-compressed, base64url without padding.
``sub`` is the list's own URI, ``ttl`` how long a verifier may keep it before fetching again.

Pure functions: the service that owns the tokens says which indices have which status, signs
with its key, and publishes; verifiers (our offline CLI among them) decode and look up.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from services.common.crypto import b64url, b64url_decode

VALID, INVALID, SUSPENDED = 0, 1, 2  # the standard's status types
TYPE = "statuslist+jwt"
MEDIA_TYPE = "application/statuslist+jwt"
MIN_ENTRIES = 16_384  # a list never smaller, so its size says little about how many tokens


class StatusListError(ValueError):
    """A list that is not a valid, signed Token Status List, or an index outside it."""


def pack(statuses: Mapping[int, int], bits: int, size: int) -> str:
    """``lst`` for ``size`` tokens (at least :data:`MIN_ENTRIES`), every one ``VALID`` but
    those in ``statuses``."""
    if bits not in (1, 2, 4, 8):
        raise ValueError("bits is one of 1, 2, 4, 8")
    per_byte = 8 // bits
    entries = max(MIN_ENTRIES, size)
    packed = bytearray(-(-entries // per_byte))
    for index, status in statuses.items():
        if not 0 <= status < 1 << bits:
            raise ValueError(f"status {status} does not fit in {bits} bits")
        packed[index // per_byte] |= status << (index % per_byte) * bits
    return b64url(zlib.compress(bytes(packed), 9))


def status_at(lst: str, bits: int, index: int) -> int:
    """The status of the token at ``index``."""
    if bits not in (1, 2, 4, 8):
        raise StatusListError("bits is one of 1, 2, 4, 8")
    try:
        packed = zlib.decompress(b64url_decode(lst))
    except (ValueError, zlib.error) as exc:
        raise StatusListError("the list does not decompress") from exc
    per_byte = 8 // bits
    if not 0 <= index < len(packed) * per_byte:
        raise StatusListError("the index lies outside the list")
    return (packed[index // per_byte] >> (index % per_byte) * bits) & ((1 << bits) - 1)


def sign(
    uri: str,
    statuses: Mapping[int, int],
    bits: int,
    size: int,
    kid: str,
    key: Ed25519PrivateKey,
    issued_at: int,
    ttl: int,
    lifetime: int,
) -> str:
    """The list as a signed JWT: valid ``lifetime`` seconds, to be fetched again after
    ``ttl``."""
    payload = {
        "sub": uri,
        "iat": issued_at,
        "exp": issued_at + lifetime,
        "ttl": ttl,
        "status_list": {"bits": bits, "lst": pack(statuses, bits, size)},
    }
    return jwt.encode(payload, key, algorithm="EdDSA", headers={"kid": kid, "typ": TYPE})


def typed_claims(
    token: str, keys: Mapping[str, Ed25519PublicKey], typ: str, required: list[str]
) -> dict[str, Any] | None:
    """The claims of an EdDSA JWT of type ``typ`` signed by one of ``keys`` (its ``kid``),
    each of ``required`` present; None otherwise. Times are the caller's to judge (a
    terminal's clock may be off: it says ``clock``, not ``forged``)."""
    try:
        header = jwt.get_unverified_header(token)
        key = keys.get(str(header.get("kid")))
        if header.get("typ") != typ or key is None:
            return None
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=["EdDSA"],
            options={"require": required, "verify_exp": False, "verify_iat": False},
        )
    except jwt.PyJWTError:
        return None
    return claims


def read(
    token: str, keys: Mapping[str, Ed25519PublicKey], now: float, skew: int = 30
) -> dict[str, Any]:
    """The verified claims of a list token (its signature by one of ``keys``, its type, an
    expiry it must carry and that has not passed, an issue time not ahead of ``now`` by
    more than ``skew``), or :class:`StatusListError`."""
    claims = typed_claims(token, keys, TYPE, ["sub", "iat", "exp", "status_list"])
    if claims is None:
        raise StatusListError("not a status list signed by a known key")
    if now > float(claims["exp"]):
        raise StatusListError("the status list has expired: fetch it again")
    if float(claims["iat"]) > now + skew:
        raise StatusListError("the status list was issued ahead of this clock")
    listed = claims.get("status_list")
    if not isinstance(listed, dict) or not isinstance(listed.get("lst"), str):
        raise StatusListError("the status list has no list")
    return claims


def reference(claims: Mapping[str, Any]) -> tuple[int, str]:
    """(idx, uri) of a referenced token's ``status`` claim."""
    try:
        listed = claims["status"]["status_list"]
        return int(listed["idx"]), str(listed["uri"])
    except (KeyError, TypeError, ValueError) as exc:
        raise StatusListError("the token names no status list") from exc
