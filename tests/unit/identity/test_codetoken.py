"""The code token and the offline verifier: signature, expiry, a changed byte, unknown keys."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from services.common.crypto import generate_signing_key, public_jwk
from services.identity import verify
from services.identity.codetoken import CodeRefused, read_code, sign_code

KEY = generate_signing_key()
KID = public_jwk(KEY.public_key())["kid"]
JWKS = {"keys": [public_jwk(KEY.public_key())]}


def fresh(ttl: int = 60, now: int | None = None) -> str:
    token, _ = sign_code("p_0123456789abcdef", KID, KEY, now or int(time.time()), ttl)
    return token


def test_a_fresh_code_reads_back_with_only_pseudonymous_claims() -> None:
    token = fresh()
    claims = read_code(token, {KID: KEY.public_key()}, time.time())
    assert claims.sub == "p_0123456789abcdef"
    assert claims.subject_type == "p"
    assert claims.exp - claims.iat == 60
    assert len(token.encode()) < 300  # fits a QR version ≤ 10 at level M


def test_an_expired_code_is_refused_with_its_claims() -> None:
    token = fresh(ttl=60, now=int(time.time()) - 120)
    with pytest.raises(CodeRefused) as caught:
        read_code(token, {KID: KEY.public_key()}, time.time())
    assert caught.value.reason == "expired"
    assert caught.value.claims is not None
    assert caught.value.claims["sub"] == "p_0123456789abcdef"


def test_every_single_changed_byte_is_detected() -> None:
    token = fresh()
    keys = {KID: KEY.public_key()}
    for index, char in enumerate(token):
        for replacement in {"A", "B", "-", "_", "."} - {char}:
            tampered = token[:index] + replacement + token[index + 1 :]
            with pytest.raises(CodeRefused):
                read_code(tampered, keys, time.time())


def test_a_key_not_in_the_jwks_is_refused() -> None:
    other = generate_signing_key()
    token, _ = sign_code("p_x", public_jwk(other.public_key())["kid"], other, int(time.time()), 60)
    with pytest.raises(CodeRefused, match="forged"):
        read_code(token, {KID: KEY.public_key()}, time.time())


def test_offline_verifier_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps(JWKS))
    assert verify.main([fresh(), "--jwks", str(jwks_file)]) == 0
    verdict = json.loads(capsys.readouterr().out)
    assert verdict["valid"] is True
    assert verdict["claims"]["sub"] == "p_0123456789abcdef"
    expired = fresh(now=int(time.time()) - 600)
    assert verify.main([expired, "--jwks", str(jwks_file)]) == 1
    assert json.loads(capsys.readouterr().out) == {"valid": False, "reason": "expired"}
