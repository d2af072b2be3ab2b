from __future__ import annotations

import pytest
from cryptography.exceptions import InvalidTag

from services.common import crypto


def test_keyed_hash_is_stable_normalized_and_key_dependent() -> None:
    key = crypto.derive_key("s" * 40, "pii-hmac")
    assert crypto.keyed_hash(key, "11010519491231002x") == crypto.keyed_hash(
        key, " 11010519491231002X"
    )
    other = crypto.derive_key("s" * 40, "other-purpose")
    assert crypto.keyed_hash(key, "A") != crypto.keyed_hash(other, "A")


def test_sealed_field_round_trips_and_is_bound_to_its_record() -> None:
    key = crypto.derive_key("s" * 40, "pii-aead")
    sealed = crypto.seal(key, "110105194912310021", "person:p1")
    assert "110105" not in sealed
    assert crypto.unseal(key, sealed, "person:p1") == "110105194912310021"
    with pytest.raises(InvalidTag):
        crypto.unseal(key, sealed, "person:p2")


def test_mask_keeps_four_and_four() -> None:
    assert crypto.mask("210102199001011234") == "2101**********1234"
    assert crypto.mask("1234") == "****"


def test_password_hash_verifies_only_the_right_password() -> None:
    encoded = crypto.hash_password("correct horse")
    assert encoded.startswith("scrypt$")
    assert crypto.verify_password("correct horse", encoded)
    assert not crypto.verify_password("correct hors", encoded)
    assert not crypto.verify_password("correct horse", "garbage")
    assert crypto.hash_password("correct horse") != encoded  # salted


def test_jwk_round_trip_and_thumbprint_kid() -> None:
    key = crypto.generate_signing_key()
    jwk = crypto.public_jwk(key.public_key())
    assert jwk["kty"] == "OKP"
    assert jwk["crv"] == "Ed25519"
    assert jwk["alg"] == "EdDSA"
    restored = crypto.public_key_from_jwk(jwk)
    restored.verify(key.sign(b"msg"), b"msg")
    assert crypto.public_jwk(restored)["kid"] == jwk["kid"]
