"""Access tokens: only EdDSA under a known kid, our issuer and audience, not expired."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from services.common.crypto import generate_signing_key, public_jwk
from services.common.errors import Unauthenticated
from services.gateway.auth import actor_from_claims, issue_access_token, verify_access_token
from services.gateway.keys import KeyRing
from services.gateway.settings import Settings

CLAIMS = {
    "account_id": "acc_1",
    "roles": ["staff"],
    "org_path": "CN-LN-SY/HP/NH",
    "subject_id": None,
    "name": "王芳",
}


def make_ring() -> KeyRing:
    key = generate_signing_key()
    jwk = public_jwk(key.public_key())
    return KeyRing(jwk["kid"], key, {jwk["kid"]: key.public_key()}, [jwk])


@pytest.fixture
def settings() -> Settings:
    return Settings(ENVIRONMENT="test")


@pytest.fixture
def ring() -> KeyRing:
    return make_ring()


def payload(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "iss": "one-code-city",
        "aud": "one-code-city",
        "sub": "acc_1",
        "iat": now,
        "exp": now + 60,
        "roles": ["admin"],
    }
    return {**base, **overrides}


def test_issued_token_verifies_and_becomes_an_actor(ring: KeyRing, settings: Settings) -> None:
    token, ttl = issue_access_token(CLAIMS, ring, settings, "sid-1")
    assert ttl == settings.ACCESS_TOKEN_TTL
    assert jwt.get_unverified_header(token) == {
        "alg": "EdDSA",
        "kid": ring.current_kid,
        "typ": "JWT",
    }
    actor = actor_from_claims(verify_access_token(token, ring, settings))
    assert actor.account_id == "acc_1"
    assert actor.roles == ("staff",)
    assert actor.org_path == "CN-LN-SY/HP/NH"


def refused(token: str, ring: KeyRing, settings: Settings) -> None:
    with pytest.raises(Unauthenticated):
        verify_access_token(token, ring, settings)


def test_alg_none_is_refused(ring: KeyRing, settings: Settings) -> None:
    refused(jwt.encode(payload(), None, algorithm="none"), ring, settings)


def test_hs256_signed_with_the_public_key_is_refused(ring: KeyRing, settings: Settings) -> None:
    public_pem = ring.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    # pyjwt will not build this token, so build it by hand: the classic key-confusion attack.
    header = {"alg": "HS256", "typ": "JWT", "kid": ring.current_kid}
    signing_input = b".".join(
        jwt.utils.base64url_encode(json.dumps(part).encode()) for part in (header, payload())
    )
    signature = hmac.new(public_pem, signing_input, hashlib.sha256).digest()
    forged = (signing_input + b"." + jwt.utils.base64url_encode(signature)).decode()
    refused(forged, ring, settings)


def test_hs256_with_a_guessed_secret_is_refused(ring: KeyRing, settings: Settings) -> None:
    refused(jwt.encode(payload(), "secret" * 6, algorithm="HS256"), ring, settings)


def test_expired_token_is_refused(ring: KeyRing, settings: Settings) -> None:
    token = jwt.encode(
        payload(iat=int(time.time()) - 3600, exp=int(time.time()) - 60),
        ring.private_key,
        algorithm="EdDSA",
        headers={"kid": ring.current_kid},
    )
    refused(token, ring, settings)


def test_future_iat_is_refused(ring: KeyRing, settings: Settings) -> None:
    token = jwt.encode(
        payload(iat=int(time.time()) + 3600, exp=int(time.time()) + 7200),
        ring.private_key,
        algorithm="EdDSA",
        headers={"kid": ring.current_kid},
    )
    refused(token, ring, settings)


def test_unknown_kid_is_refused(ring: KeyRing, settings: Settings) -> None:
    stranger = make_ring()
    token = jwt.encode(
        payload(), stranger.private_key, algorithm="EdDSA", headers={"kid": stranger.current_kid}
    )
    refused(token, ring, settings)


def test_wrong_audience_is_refused(ring: KeyRing, settings: Settings) -> None:
    token = jwt.encode(
        payload(aud="someone-else"),
        ring.private_key,
        algorithm="EdDSA",
        headers={"kid": ring.current_kid},
    )
    refused(token, ring, settings)


def test_a_tampered_token_is_refused(ring: KeyRing, settings: Settings) -> None:
    token, _ = issue_access_token(CLAIMS, ring, settings, "sid-1")
    header, body, signature = token.split(".")
    forged_body = jwt.utils.base64url_encode(
        jwt.utils.base64url_decode(body).replace(b'"staff"', b'"admin"')
    ).decode()
    refused(f"{header}.{forged_body}.{signature}", ring, settings)


def test_production_refuses_the_demo_secret() -> None:
    with pytest.raises(ValueError, match="SECRET_KEY"):
        Settings(ENVIRONMENT="production")
    assert Settings(ENVIRONMENT="production", SECRET_KEY="x" * 40).ENVIRONMENT == "production"
