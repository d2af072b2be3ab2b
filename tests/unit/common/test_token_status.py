"""The Token Status List as the draft's own example and the reference library
(``token-status-list``) read it: our lists decode there, theirs decode here."""

from __future__ import annotations

import base64
import random
import time
import zlib

import jwt
import pytest
import token_status_list

from services.common import token_status
from services.common.crypto import generate_signing_key, public_jwk

KEY = generate_signing_key()
KID = public_jwk(KEY.public_key())["kid"]
URI = "https://city.example/v1/codes/printed/status-list"


def raw(lst: str) -> bytes:
    return zlib.decompress(base64.urlsafe_b64decode(lst + "=" * (-len(lst) % 4)))


def test_the_drafts_one_bit_example_packs_to_its_bytes() -> None:
    # draft-ietf-oauth-status-list §4.1: indices 0, 3, 4, 5, 7, 8, 9, 13, 15 invalid.
    invalid = {i: 1 for i in (0, 3, 4, 5, 7, 8, 9, 13, 15)}
    assert raw(token_status.pack(invalid, 1, 16))[:2] == bytes([0xB9, 0xA3])


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
def test_the_reference_library_reads_our_list(bits: int) -> None:
    rng = random.Random(bits)
    statuses = {rng.randrange(20_000): rng.randrange(1, 1 << bits) for _ in range(300)}
    lst = token_status.pack(statuses, bits, 20_000)
    theirs = token_status_list.BitArray.from_b64(bits, lst)
    for index in [*statuses, 0, 1, 19_999]:
        assert theirs.get(index) == statuses.get(index, token_status.VALID)


def test_we_read_the_reference_librarys_list() -> None:
    theirs = token_status_list.BitArray.of_size(2, 16_384)
    theirs.set(5, token_status.INVALID)
    theirs.set(6, token_status.SUSPENDED)
    lst = theirs.to_b64()
    assert token_status.status_at(lst, 2, 5) == token_status.INVALID
    assert token_status.status_at(lst, 2, 6) == token_status.SUSPENDED
    assert token_status.status_at(lst, 2, 7) == token_status.VALID
    with pytest.raises(token_status.StatusListError):
        token_status.status_at(lst, 2, 16_384)


def test_a_signed_list_is_a_statuslist_jwt_that_reads_back() -> None:
    now = int(time.time())
    token = token_status.sign(URI, {3: 1}, 2, 10, KID, KEY, now, 300, 86_400)
    header = jwt.get_unverified_header(token)
    assert header["typ"] == "statuslist+jwt"
    assert header["kid"] == KID
    claims = token_status.read(token, {KID: KEY.public_key()}, now)
    assert claims["sub"] == URI
    assert claims["ttl"] == 300
    assert claims["status_list"]["bits"] == 2
    assert token_status.status_at(claims["status_list"]["lst"], 2, 3) == token_status.INVALID


def test_a_changed_expired_or_unknown_list_is_refused() -> None:
    now = int(time.time())
    token = token_status.sign(URI, {}, 2, 10, KID, KEY, now, 300, 86_400)
    keys = {KID: KEY.public_key()}
    head, body, signature = token.split(".")
    flipped = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]
    for bad in (f"{head}.{flipped}.{signature}", token[:-3] + "AAA"):
        with pytest.raises(token_status.StatusListError):
            token_status.read(bad, keys, now)
    with pytest.raises(token_status.StatusListError, match="expired"):
        token_status.read(token, keys, now + 86_401)
    other = generate_signing_key()
    with pytest.raises(token_status.StatusListError):
        token_status.read(token, {KID: other.public_key()}, now)
    plain = jwt.encode({"sub": URI, "iat": now, "status_list": {}}, KEY, algorithm="EdDSA")
    with pytest.raises(token_status.StatusListError):
        token_status.read(plain, keys, now)  # not typed as a status list


def test_a_list_without_an_expiry_or_from_the_future_is_refused() -> None:
    now = int(time.time())
    keys = {KID: KEY.public_key()}
    listed = {"bits": 1, "lst": token_status.pack({}, 1, 8)}
    endless = jwt.encode(
        {"sub": URI, "iat": now, "status_list": listed},
        KEY,
        algorithm="EdDSA",
        headers={"kid": KID, "typ": token_status.TYPE},
    )
    with pytest.raises(token_status.StatusListError):
        token_status.read(endless, keys, now)
    ahead = token_status.sign(URI, {}, 1, 8, KID, KEY, now + 3600, 300, 86_400)
    with pytest.raises(token_status.StatusListError, match="ahead"):
        token_status.read(ahead, keys, now)
    assert token_status.read(ahead, keys, now + 3600)["sub"] == URI
