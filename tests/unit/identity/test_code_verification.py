"""Checking codes, through identity's store interface (in memory): what a terminal is told
for a fresh, a used, an expired or a frozen person's code, across a key rotation, and what
an offline upload of a code used twice records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest

from services.common.access import acting_as
from services.common.actor import Actor
from services.common.document import Document
from services.common.errors import Conflict, Forbidden, InvalidInput
from services.identity import access, codekeys, codes, scans
from services.identity.codekeys import KeyCache
from services.identity.pii import PiiKeys
from tests.unit.identity.memory_store import MemoryIdentityStore

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
KEYS = PiiKeys.from_secret("unit-code-verification")
PERSON = "p_0123456789abcdef"
CITIZEN = Actor(account_id="acc_wang", roles=("citizen",), subject_id=PERSON, org_path="C/NH")


@pytest.fixture
def store() -> MemoryIdentityStore:
    made = MemoryIdentityStore()
    made.insert_person(
        {
            "_id": PERSON,
            "name": "王秀英",
            "id_number": {"hash": "h", "masked": "2101**********1234"},
            "org_path": "C/NH",
            "org_ancestors": ["C", "C/NH"],
            "birth_date": "1950-03-01",
            "frozen_self": False,
            "frozen_staff": None,
            "status": "active",
            "created_at": NOW,
        }
    )
    for n, scenes in ((1, ["hotel"]), (2, ["hotel", "bus"])):
        made.insert_account(
            {
                "_id": f"acc_terminal{n}",
                "username": f"terminal{n}",
                "display_name": f"核验点{n}",
                "roles": ["verifier"],
                "scenes": scenes,
                "status": "active",
                "org_ancestors": ["C"],
            }
        )
    return made


@pytest.fixture
def cache() -> KeyCache:
    return KeyCache(b"w" * 32, ttl=0.0)


def terminal(n: int = 1, scenes: tuple[str, ...] = ("hotel",)) -> Actor:
    return Actor(account_id=f"acc_terminal{n}", roles=("verifier",), extra={"scenes": list(scenes)})


def code(store: MemoryIdentityStore, cache: KeyCache, at: datetime, ttl: int = 60) -> str:
    guard = acting_as(access.TABLE, "issue_code", CITIZEN)
    return str(codes.issue_code(store, cache, guard, at, ttl)["token"])


def check(
    store: MemoryIdentityStore, cache: KeyCache, token: str, at: datetime, who: Actor | None = None
) -> dict[str, Any]:
    guard = acting_as(access.TABLE, "verify_code", who or terminal())
    card_keys = KeyCache(b"c" * 32, collection="card_keys", prefix="card-", ttl=0.0)
    return codes.verify_code(
        store, cache, card_keys, KEYS, guard, at, token, "hotel", codes.SCENE_FIELDS
    )


def results(store: MemoryIdentityStore) -> list[str]:
    return [s["result"] for s in reversed(store.scans_of([PERSON], None, 50))]


def test_a_fresh_code_shows_the_scene_its_fields_once(
    store: MemoryIdentityStore, cache: KeyCache
) -> None:
    token = code(store, cache, NOW)
    shown = check(store, cache, token, NOW + timedelta(seconds=5))
    assert shown["result"] == "valid"
    assert shown["fields"] == {"name": "王秀英", "id_number_masked": "2101**********1234"}
    with pytest.raises(Conflict) as again:
        check(store, cache, token, NOW + timedelta(seconds=6), terminal(2))
    assert again.value.extra["code"] == "replayed"
    assert results(store) == ["ok", "replayed"]


def test_an_expired_code_is_told_apart_from_a_forged_one(
    store: MemoryIdentityStore, cache: KeyCache
) -> None:
    token = code(store, cache, NOW, ttl=30)
    with pytest.raises(InvalidInput) as late:
        check(store, cache, token, NOW + timedelta(seconds=31 + codekeys.SKEW_SECONDS))
    assert late.value.extra["code"] == "expired"
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    with pytest.raises(InvalidInput) as forged:
        check(store, cache, tampered, NOW)
    assert forged.value.extra["code"] == "forged"
    assert results(store) == ["expired"]  # a forgery names nobody


def test_a_frozen_persons_code_is_refused_and_the_terminal_learns_no_reason(
    store: MemoryIdentityStore, cache: KeyCache
) -> None:
    token = code(store, cache, NOW)
    store.update_subject(PERSON, {"frozen_staff": {"reason": "手机遗失", "by": "acc_staff"}})
    with pytest.raises(Forbidden) as frozen:
        check(store, cache, token, NOW)
    assert frozen.value.extra["code"] == "frozen"
    assert "手机遗失" not in str(frozen.value)
    assert results(store) == ["frozen"]


def test_a_code_signed_by_the_next_key_is_accepted_across_a_rotation(
    store: MemoryIdentityStore, cache: KeyCache
) -> None:
    before = code(store, cache, NOW)
    rotated = cache.rotate(store, NOW, compromised=False)
    after = code(store, cache, NOW + codekeys.LEAD + timedelta(seconds=1))
    assert jwt.get_unverified_header(after)["kid"] == rotated.kid
    assert jwt.get_unverified_header(before)["kid"] != rotated.kid
    at = NOW + codekeys.LEAD + timedelta(seconds=2)
    assert check(store, cache, after, at)["result"] == "valid"
    assert check(store, cache, before, NOW + timedelta(seconds=30))["result"] == "valid"


def test_a_code_used_offline_by_two_terminals_is_flagged_and_refused_online(
    store: MemoryIdentityStore, cache: KeyCache
) -> None:
    token = code(store, cache, NOW)
    scanned = {"token": token, "scene": "hotel", "scanned_at": (NOW + timedelta(seconds=3))}
    entry: Document = {**scanned, "scanned_at": scanned["scanned_at"].isoformat()}
    upload = acting_as(access.TABLE, "upload_scan_logs", terminal(1))
    first = scans.upload_offline_logs(
        store, cache, cache, upload, NOW + timedelta(hours=1), "bus-7", [entry]
    )
    again = scans.upload_offline_logs(
        store, cache, cache, upload, NOW + timedelta(hours=1), "bus-7", [entry]
    )
    other = scans.upload_offline_logs(
        store,
        cache,
        cache,
        acting_as(access.TABLE, "upload_scan_logs", terminal(2)),
        NOW + timedelta(hours=2),
        "bus-9",
        [entry],
    )
    assert (first["accepted"], first["second_uses"]) == (1, 0)
    assert (again["accepted"], again["duplicates"]) == (0, 1)  # uploaded before: harmless
    assert (other["accepted"], other["second_uses"]) == (1, 1)
    with pytest.raises(Conflict):
        check(store, cache, token, NOW + timedelta(seconds=10))
    assert sorted(results(store)) == ["ok", "replayed", "replayed"]


def test_a_code_used_online_then_uploaded_offline_is_a_second_use_once(
    store: MemoryIdentityStore, cache: KeyCache
) -> None:
    token = code(store, cache, NOW)
    check(store, cache, token, NOW + timedelta(seconds=2))  # used at a gate, online
    scanned = (NOW + timedelta(seconds=5)).isoformat()
    entry: Document = {"token": token, "scene": "hotel", "scanned_at": scanned}
    upload = acting_as(access.TABLE, "upload_scan_logs", terminal(2))
    later = NOW + timedelta(hours=1)
    first = scans.upload_offline_logs(store, cache, cache, upload, later, "bus-9", [entry])
    again = scans.upload_offline_logs(store, cache, cache, upload, later, "bus-9", [entry])
    assert (first["accepted"], first["second_uses"], first["duplicates"]) == (1, 1, 0)
    assert (again["accepted"], again["duplicates"]) == (0, 1)  # the replay, recorded once
    assert results(store) == ["ok", "replayed"]
