"""The printed card's token and its offline check: signed, typed, no subject id inside, its
status read from the Token Status List it names."""

from __future__ import annotations

import time

import pytest

from services.common import token_status
from services.common.crypto import generate_signing_key, public_jwk
from services.gateway.qr import qr_version
from services.identity import verify
from services.identity.cards import (
    LIST_SIZE,
    MAX_PUBLIC_URL,
    checked_public_url,
    status_uri,
    statuses,
)
from services.identity.cardtoken import (
    KID_PREFIX,
    MAX_QR_VERSION,
    CodeRefused,
    is_card,
    new_card_id,
    read_card,
    sign_card,
)
from services.identity.codetoken import read_code

KEY = generate_signing_key()
KID = KID_PREFIX + public_jwk(KEY.public_key())["kid"]
JWKS = {"keys": [{**public_jwk(KEY.public_key()), "kid": KID}]}
URI = "https://city.example/v1/codes/printed/status-list"
YEARS = 5 * 365 * 86_400


def card(idx: int = 7, now: int | None = None, lifetime: int = YEARS) -> str:
    return sign_card(new_card_id(), idx, URI, KID, KEY, now or int(time.time()), lifetime)


def status_list(statuses: dict[int, int], now: int | None = None, uri: str = URI) -> str:
    at = now or int(time.time())
    return token_status.sign(uri, statuses, 2, 100, KID, KEY, at, 300, 86_400)


def test_a_card_names_its_status_and_no_person() -> None:
    token = card()
    assert is_card(token)
    claims = read_card(token, {KID: KEY.public_key()}, time.time(), 30)
    assert claims.idx == 7
    assert claims.uri == URI
    assert "p_" not in token
    assert qr_version(token) <= MAX_QR_VERSION


def test_the_longest_public_address_allowed_still_prints() -> None:
    longest = "https://" + "a" * (MAX_PUBLIC_URL - len("https://"))
    assert checked_public_url(longest + "/") == longest
    token = sign_card(new_card_id(), LIST_SIZE - 1, status_uri(longest), KID, KEY, 2**31, YEARS)
    assert qr_version(token) <= MAX_QR_VERSION
    for wrong in (longest + "a", "city.example", "ftp://city.example"):
        with pytest.raises(ValueError, match="PUBLIC_URL"):
            checked_public_url(wrong)


def test_a_card_is_never_taken_for_a_dynamic_code() -> None:
    with pytest.raises(CodeRefused) as caught:
        read_code(card(), {KID: KEY.public_key()}, time.time())
    assert caught.value.reason == "forged"


def test_offline_a_valid_card_needs_a_current_list() -> None:
    token = card(idx=7)
    assert verify.verify(token, JWKS, time.time(), status_list({}))[0]
    valid, verdict = verify.verify(token, JWKS, time.time())
    assert not valid
    assert verdict["reason"] == "no_status_list"
    stale = status_list({}, now=int(time.time()) - 2 * 86_400)
    assert verify.verify(token, JWKS, time.time(), stale)[1]["reason"] == "status_list"
    elsewhere = status_list({}, uri="https://other.example/list")
    assert verify.verify(token, JWKS, time.time(), elsewhere)[1]["reason"] == "status_list"


@pytest.mark.parametrize(
    ("status", "reason"),
    [(token_status.INVALID, "revoked"), (token_status.SUSPENDED, "suspended")],
)
def test_offline_a_replaced_or_frozen_card_is_refused(status: int, reason: str) -> None:
    token = card(idx=9)
    valid, verdict = verify.verify(token, JWKS, time.time(), status_list({9: status}))
    assert not valid
    assert verdict["reason"] == reason
    assert verify.verify(card(idx=10), JWKS, time.time(), status_list({9: status}))[0]


def test_offline_an_expired_or_foreign_card_is_refused() -> None:
    old = card(now=int(time.time()) - 100, lifetime=10)
    assert verify.verify(old, JWKS, time.time(), status_list({}))[1]["reason"] == "expired"
    other = generate_signing_key()
    forged = sign_card(new_card_id(), 1, URI, KID, other, int(time.time()), YEARS)
    assert verify.verify(forged, JWKS, time.time(), status_list({}))[1]["reason"] == "forged"


def test_offline_only_card_keys_sign_cards_and_their_list() -> None:
    code_key = generate_signing_key()
    code_kid = public_jwk(code_key.public_key())["kid"]
    both = {"keys": [*JWKS["keys"], public_jwk(code_key.public_key())]}
    by_code_key = sign_card(new_card_id(), 1, URI, code_kid, code_key, int(time.time()), YEARS)
    assert verify.verify(by_code_key, both, time.time(), status_list({}))[1]["reason"] == "forged"
    listed = token_status.sign(URI, {}, 2, 100, code_kid, code_key, int(time.time()), 300, 86_400)
    assert verify.verify(card(), both, time.time(), listed)[1]["reason"] == "status_list"


def test_a_replaced_card_stays_invalid_while_its_holder_is_frozen() -> None:
    frozen = {"_id": "p_1", "frozen_staff": {"reason": "核实"}}
    records = [
        {"idx": 1, "sub": "p_1", "status": "revoked"},
        {"idx": 2, "sub": "p_1", "status": "active"},
        {"idx": 3, "sub": "p_2", "status": "active"},
        {"idx": 4, "sub": "p_3", "status": "active"},
    ]
    people = {"p_1": frozen, "p_2": {"_id": "p_2"}, "p_3": {"_id": "p_3", "status": "deceased"}}
    assert statuses(records, people) == {
        1: token_status.INVALID,
        2: token_status.SUSPENDED,
        4: token_status.INVALID,
    }
