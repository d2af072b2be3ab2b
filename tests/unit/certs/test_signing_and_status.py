from __future__ import annotations

from typing import Any

import pytest

from services.certs import statuslist
from services.certs.catalogue import SEED_TYPES, validate_fields
from services.certs.signing import sign, signature_valid
from services.common.crypto import generate_signing_key
from services.common.errors import InvalidInput

CERTIFICATE: dict[str, Any] = {
    "number": "HPCL-2026-0000007",
    "type": "disability_certificate",
    "issuer": "iss_hpcl",
    "subject": "p_0123456789abcdef",
    "fields": {"holder_name": "王建国", "category": "肢体", "grade": "二级"},
    "version": 1,
    "valid_from": "2026-11-22",
    "valid_until": "2036-11-19",
    "status_index": 7,
    "supersedes": None,
    "salts": {"holder_name": "s1", "category": "s2", "grade": "s3"},
}
DISABILITY = next(t for t in SEED_TYPES if t["_id"] == "disability_certificate")


@pytest.mark.parametrize(
    "change",
    [
        {"fields": {**CERTIFICATE["fields"], "grade": "一级"}},
        {"type": "driving_licence"},
        {"valid_until": "2046-11-19"},
        {"subject": "p_fedcba9876543210"},
        {"status_index": 8},
    ],
)
def test_any_change_to_a_signed_certificate_breaks_its_seal(change: dict[str, Any]) -> None:
    key = generate_signing_key()
    signature = sign(CERTIFICATE, key)
    assert signature_valid(CERTIFICATE, signature, key.public_key())
    assert not signature_valid({**CERTIFICATE, **change}, signature, key.public_key())
    other = generate_signing_key()
    assert not signature_valid(CERTIFICATE, signature, other.public_key())


def test_status_list_sets_exactly_the_revoked_bits() -> None:
    encoded = statuslist.encode([0, 7, 131_071], 10)
    assert [statuslist.bit(encoded, i) for i in (0, 1, 7, 8, 131_071)] == [
        True,
        False,
        True,
        False,
        True,
    ]
    assert not statuslist.bit(encoded, 10_000_000)


def test_a_million_entry_list_stays_small() -> None:
    encoded = statuslist.encode(list(range(0, 1_000_000, 97)), 1_000_000)
    assert len(encoded) < 60_000  # 1,000,000 bits, a 1 % revocation rate, gzip + base64url


def test_signed_status_list_detects_tampering() -> None:
    key = generate_signing_key()
    body = {
        "issuer": "iss_x",
        "kid": "k",
        "published_at": "2026-11-22T00:00:00.000Z",
        "encoded_list": statuslist.encode([3], 4),
    }
    from services.certs.signing import canonical
    from services.common.crypto import b64url

    listed = {**body, "signature": b64url(key.sign(canonical(body)))}
    assert statuslist.verify_list(listed, key.public_key())
    stale = {**listed, "published_at": "2026-11-23T00:00:00.000Z"}
    assert not statuslist.verify_list(stale, key.public_key())


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"holder_name": "王", "category": "肢体", "grade": "五级"}, "fields.grade"),
        ({"holder_name": "王", "category": "肢体"}, "fields.grade"),
        ({"holder_name": "王", "category": "未知", "grade": "一级"}, "fields.category"),
        ({"holder_name": "王", "category": "肢体", "grade": "一级", "extra": 1}, "fields"),
    ],
)
def test_fields_are_checked_against_the_type_naming_the_field(
    fields: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_fields(DISABILITY, fields)
    assert caught.value.field == field


def test_a_status_list_holds_a_place_beyond_the_size_it_was_told() -> None:
    # the issuer's next place can lag on FerretDB behind a place already taken
    encoded = statuslist.encode([200_000], 150_000)
    assert statuslist.bit(encoded, 200_000)
    assert not statuslist.bit(encoded, 199_999)
