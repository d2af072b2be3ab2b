"""Tampering with a presentation is detected at every layer: the wallet's signature, each
issuer's seal (type, validity, …), and each revealed field's digest."""

from __future__ import annotations

import copy
import time
from typing import Any

import jwt
import pytest

from services.certs.presentations import PresentationRefused, check_token
from services.certs.signing import new_salts, sealed_part, sign
from services.common.crypto import generate_signing_key, public_jwk

ISSUER = generate_signing_key()
WALLET = generate_signing_key()
ISSUER_KID = public_jwk(ISSUER.public_key())["kid"]
WALLET_KID = public_jwk(WALLET.public_key())["kid"]
FIELDS = {"holder_name": "李秀英", "category": "视力", "grade": "一级"}
CERTIFICATE: dict[str, Any] = {
    "number": "HPCL-2026-0000001",
    "type": "disability_certificate",
    "issuer": "iss_hpcl",
    "subject": "p_0123456789abcdef",
    "fields": FIELDS,
    "salts": new_salts(FIELDS),
    "version": 1,
    "valid_from": "2026-11-22",
    "valid_until": "2036-11-19",
    "status_index": 1,
    "supersedes": None,
}


def claims(reveal: tuple[str, ...] = ("category", "grade"), ttl: int = 120) -> dict[str, Any]:
    now = int(time.time())
    item = {
        "sealed": sealed_part(CERTIFICATE),
        "signature": sign(CERTIFICATE, ISSUER),
        "kid": ISSUER_KID,
        "disclosures": [[CERTIFICATE["salts"][n], n, FIELDS[n]] for n in reveal],
    }
    return {"jti": "j1", "iat": now, "exp": now + ttl, "items": [item]}


def token(payload: dict[str, Any], key: Any = WALLET, kid: str = WALLET_KID) -> str:
    return jwt.encode(payload, key, algorithm="EdDSA", headers={"kid": kid})


def check(value: str, audience: str | None = None) -> list[dict[str, Any]]:
    return check_token(
        value,
        {WALLET_KID: WALLET.public_key()},
        {ISSUER_KID: ISSUER.public_key()},
        time.time(),
        audience,
    )


def test_only_the_chosen_fields_are_revealed_and_they_verify() -> None:
    shown = check(token(claims()))
    assert shown[0]["revealed"] == {"category": "视力", "grade": "一级"}
    assert "李秀英" not in str(shown[0]["sealed"])  # the name is sealed only as a digest


def refused(value: str, reason: str = "forged", audience: str | None = None) -> None:
    with pytest.raises(PresentationRefused) as caught:
        check(value, audience)
    assert caught.value.reason == reason


def test_a_changed_revealed_field_is_detected() -> None:
    payload = claims()
    payload["items"][0]["disclosures"][1][2] = "四级"
    refused(token(payload))  # even with a valid wallet signature, the digest does not match


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("type", "driving_licence"),
        ("valid_until", "2099-12-31"),
        ("status_index", 2),
        ("subject", "p_x"),
    ],
)
def test_a_changed_sealed_part_is_detected(key: str, value: Any) -> None:
    payload = claims()
    payload["items"][0]["sealed"][key] = value
    refused(token(payload))


def test_a_changed_issuer_signature_is_detected() -> None:
    payload = claims()
    signature = payload["items"][0]["signature"]
    payload["items"][0]["signature"] = (
        signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    )
    refused(token(payload))


def test_an_envelope_not_signed_by_the_wallet_is_detected() -> None:
    stranger = generate_signing_key()
    refused(token(claims(), stranger, WALLET_KID))
    header, _body, signature = token(claims()).split(".")
    edited = copy.deepcopy(claims())
    edited["items"][0]["disclosures"] = []
    forged_body = jwt.utils.base64url_encode(jwt.api_jws.json.dumps(edited).encode()).decode()
    refused(f"{header}.{forged_body}.{signature}")


def test_expiry_and_audience() -> None:
    refused(token(claims(ttl=-1)), "expired")
    refused(token({**claims(), "aud": "acc_hotel"}), "wrong_audience", audience="acc_other")
    assert check(token({**claims(), "aud": "acc_hotel"}), audience="acc_hotel")
