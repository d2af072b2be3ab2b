"""The printed code's token (物理码): a compact JWS (EdDSA, ``typ: occ-card+jwt``) that a
terminal checks offline like a dynamic code, but that lasts for years and is shown again and
again, so it is revoked (a new card), suspended (a frozen person) or valid by a Token Status
List (:mod:`services.common.token_status`) instead of by its expiry.

It carries a random card id (``cid``) that only identity resolves to the person, never the
person's subject id: a card is static and so can be followed by whoever scans it, but it
tells nobody who it is without identity. Pure functions, shared by the identity service and
the offline verifier.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from services.common import token_status
from services.identity.codetoken import CodeRefused

TYPE = "occ-card+jwt"
STATUS_LIFETIME = timedelta(days=1)  # a list older is refused: offline trust has an end
KID_PREFIX = "card-"  # the cards' keys in the JWKS, apart from the dynamic codes' keys
# At most this QR version at level M: the card prints its QR 37 mm wide, so a module is at
# least 0.4 mm, within what counter scanners and phone cameras read. A signed, status-listed
# token cannot fit version 10 (the dynamic code's bound, for screens): the signature alone
# takes 86 characters.
MAX_QR_VERSION = 15


@dataclass(frozen=True)
class CardClaims:
    cid: str
    idx: int
    uri: str
    iat: int
    exp: int


def new_card_id() -> str:
    return secrets.token_urlsafe(9)


def card_keys(keys: Mapping[str, Ed25519PublicKey]) -> dict[str, Ed25519PublicKey]:
    """Of a JWKS's keys, those that sign cards and their status list."""
    return {kid: key for kid, key in keys.items() if kid.startswith(KID_PREFIX)}


def code_keys(keys: Mapping[str, Ed25519PublicKey]) -> dict[str, Ed25519PublicKey]:
    """Of a JWKS's keys, those that sign dynamic codes."""
    return {kid: key for kid, key in keys.items() if not kid.startswith(KID_PREFIX)}


def sign_card(
    cid: str, idx: int, uri: str, kid: str, key: Ed25519PrivateKey, now: int, lifetime: int
) -> str:
    payload = {
        "cid": cid,
        "iat": now,
        "exp": now + lifetime,
        "status": {"status_list": {"idx": idx, "uri": uri}},
    }
    return jwt.encode(payload, key, algorithm="EdDSA", headers={"kid": kid, "typ": TYPE})


def is_card(token: Any) -> bool:
    """Whether the text is a printed code's token (by its header; :func:`read_card`
    verifies)."""
    if not isinstance(token, str) or token.count(".") != 2 or len(token) > 2048:
        return False
    try:
        return bool(jwt.get_unverified_header(token).get("typ") == TYPE)
    except jwt.PyJWTError:
        return False


def read_card(
    token: str, keys: Mapping[str, Ed25519PublicKey], now: float, leeway: int
) -> CardClaims:
    """Verify the signature, the type and the card's own validity period (``leeway``
    seconds of skew either way); :class:`CodeRefused` with the reason."""
    payload = token_status.typed_claims(token, keys, TYPE, ["cid", "iat", "exp", "status"])
    if payload is None:
        raise CodeRefused("forged")
    try:
        idx, uri = token_status.reference(payload)
        claims = CardClaims(
            cid=str(payload["cid"]),
            idx=idx,
            uri=uri,
            iat=int(payload["iat"]),
            exp=int(payload["exp"]),
        )
    except (token_status.StatusListError, KeyError, TypeError, ValueError) as exc:
        raise CodeRefused("forged") from exc
    if now > claims.exp + leeway:
        raise CodeRefused("expired", payload)
    if now < claims.iat - leeway:
        raise CodeRefused("clock", payload)
    return claims


def card_status(claims: CardClaims, status_list: Mapping[str, Any]) -> str:
    """``valid``, ``revoked`` (a newer card replaced it) or ``suspended`` (the person is
    frozen), as the verified list says."""
    listed = status_list["status_list"]
    if status_list.get("sub") != claims.uri:
        raise token_status.StatusListError("this is not the list the card names")
    value = token_status.status_at(str(listed["lst"]), int(listed["bits"]), claims.idx)
    if value == token_status.VALID:
        return "valid"
    return "suspended" if value == token_status.SUSPENDED else "revoked"
