"""Access tokens: JWTs signed with Ed25519 (``EdDSA``) under a ``kid`` from the key ring.

Verification accepts only ``EdDSA`` (so ``alg: none`` and HS256 tokens, including HS256
signed with the public key, are refused), only a known ``kid``, only our issuer and audience,
and refuses an expired token or one issued in the future.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import jwt

from services.common.actor import Actor
from services.common.errors import Unauthenticated
from services.gateway.keys import KeyRing
from services.gateway.settings import Settings

CLOCK_SKEW = 30


def issue_access_token(
    claims: dict[str, Any], ring: KeyRing, settings: Settings, sid: str
) -> tuple[str, int]:
    """A token of session ``sid`` (:mod:`services.gateway.sessions`)."""
    now = int(time.time())
    ttl = settings.ACCESS_TOKEN_TTL
    payload = {
        "iss": settings.TOKEN_ISSUER,
        "aud": settings.TOKEN_AUDIENCE,
        "sub": claims["account_id"],
        "iat": now,
        "exp": now + ttl,
        "jti": secrets.token_urlsafe(12),
        "sid": sid,
        "roles": claims.get("roles", []),
        "org": claims.get("org_path"),
        "subj": claims.get("subject_id"),
        "name": claims.get("name"),
        "cid": claims.get("client_id"),
        "scope": " ".join(claims.get("scopes", [])) or None,
        "scenes": claims.get("scenes") or None,
    }
    payload = {k: v for k, v in payload.items() if v is not None}
    token = jwt.encode(
        payload, ring.private_key, algorithm="EdDSA", headers={"kid": ring.current_kid}
    )
    return token, ttl


def verify_access_token(token: str, ring: KeyRing, settings: Settings) -> dict[str, Any]:
    refused = Unauthenticated("invalid or expired access token")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise refused from exc
    if header.get("alg") != "EdDSA":
        raise refused
    key = ring.public_keys.get(str(header.get("kid")))
    if key is None:
        raise refused
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=["EdDSA"],
            audience=settings.TOKEN_AUDIENCE,
            issuer=settings.TOKEN_ISSUER,
            leeway=CLOCK_SKEW,
            options={"require": ["exp", "iat", "sub", "aud", "iss", "sid"]},
        )
    except jwt.PyJWTError as exc:
        raise refused from exc
    if claims["iat"] > time.time() + CLOCK_SKEW:
        raise refused
    return claims


def actor_from_claims(claims: dict[str, Any]) -> Actor:
    scenes = claims.get("scenes") or []
    extra: dict[str, Any] = {"iat": claims.get("iat"), "sid": claims.get("sid")}
    if scenes:
        extra["scenes"] = scenes
    return Actor(
        account_id=claims["sub"],
        roles=tuple(claims.get("roles", [])),
        org_path=claims.get("org"),
        subject_id=claims.get("subj"),
        client_id=claims.get("cid"),
        scopes=tuple((claims.get("scope") or "").split()),
        name=claims.get("name"),
        extra=extra,
    )
