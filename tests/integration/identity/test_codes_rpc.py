"""Codes on the real broker and database: single use under concurrency, key rotation."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import eventlet
import pymongo
import pytest
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ClusterRpcProxy

from services.common import signing_keys
from services.common.actor import Actor
from services.common.codec import utcnow
from services.common.config import load_settings
from services.common.crypto import public_key_from_jwk
from services.identity import cards, cardtoken, codekeys
from services.identity.codetoken import CodeRefused, read_code
from services.identity.pii import PiiKeys
from services.identity.service import IdentityService
from tests.bus import gateway_proxy, service_proxy
from tests.idnumbers import resident_id

ADMIN = Actor(account_id="acc_admin", roles=("admin",))


def proxy(config: dict[str, Any], actor: Actor | None) -> ClusterRpcProxy:
    return gateway_proxy(config, actor)


@pytest.fixture
def city(container_factory: Any, service_config: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """identity running, one street, a registered person with a login, a hotel terminal."""
    container_factory(IdentityService, service_config).start()
    with proxy(service_config, ADMIN) as rpc:
        rpc.identity.create_org_unit(code="C", name="市", kind="city")
        rpc.identity.create_org_unit(code="NH", name="南湖", kind="district", parent="C")
        person = rpc.identity.register_person(
            name="李秀英",
            id_number=resident_id(),
            org_path="C/NH",
            account={"username": "li.xiuying", "password": "li-password-1"},
        )
        terminal = rpc.identity.create_account(
            username="hotel.1",
            password="hotel-password",
            roles=["verifier"],
            org_path="C/NH",
            scenes=["hotel"],
        )
    return {"config": service_config, "person": person, "terminal": terminal}


def citizen(city: dict[str, Any]) -> Actor:
    return Actor(
        account_id=city["person"]["account_id"],
        roles=("citizen",),
        subject_id=city["person"]["id"],
        org_path="C/NH",
    )


def test_twenty_simultaneous_scans_of_one_code_accept_exactly_one(city: dict[str, Any]) -> None:
    config = city["config"]
    with proxy(config, citizen(city)) as rpc:
        token = rpc.identity.issue_code()["token"]
    terminal = Actor(
        account_id=city["terminal"]["id"], roles=("verifier",), extra={"scenes": ["hotel"]}
    )

    def scan(_: int) -> str:
        with proxy(config, terminal) as rpc:
            try:
                rpc.identity.verify_code(token=token, scene="hotel")
            except RemoteError as exc:
                return exc.exc_type
            return "ok"

    with eventlet.Timeout(60):
        outcomes = list(eventlet.GreenPool(20).imap(scan, range(20)))
    assert outcomes.count("ok") == 1
    assert outcomes.count("Conflict") == 19
    with proxy(config, citizen(city)) as rpc:
        results = [s["result"] for s in rpc.identity.list_my_scans(limit=50)["items"]]
    assert sorted(results) == ["ok"] + ["replayed"] * 19


def terminal_of(city: dict[str, Any]) -> Actor:
    return Actor(
        account_id=city["terminal"]["id"], roles=("verifier",), extra={"scenes": ["hotel"]}
    )


@contextmanager
def identity_db(config: dict[str, Any]) -> Iterator[Any]:
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
        config["MONGO_URL"], tz_aware=True
    )
    try:
        yield client[f"{config['DB_PREFIX']}identity"]
    finally:
        client.close()


def code_keys(rpc: ClusterRpcProxy) -> dict[str, Any]:
    """The JWKS a terminal fetches, but for the printed cards' keys (a ring of their own)."""
    jwks = rpc.identity.code_jwks()
    return cardtoken.code_keys({k["kid"]: public_key_from_jwk(k) for k in jwks["keys"]})


def test_a_terminal_holding_the_keys_of_before_a_rotation_accepts_the_codes_of_after(
    city: dict[str, Any],
) -> None:
    config = city["config"]
    with proxy(config, None) as rpc:
        held = code_keys(rpc)  # what a terminal fetched before
    with proxy(config, ADMIN) as rpc:
        rotated = rpc.identity.rotate_code_key()
    assert rotated["signing_kid"] in held  # the old key signs on for the JWKS cache lifetime
    assert rotated["next_kid"] not in held
    with proxy(config, citizen(city)) as rpc:
        token = rpc.identity.issue_code()["token"]
    now = utcnow().timestamp()
    assert read_code(token, held, now).sub == city["person"]["id"]
    with proxy(config, None) as rpc:
        fresh = code_keys(rpc)
    assert set(fresh) == {rotated["signing_kid"], rotated["next_kid"]}  # ahead
    with proxy(config, ADMIN) as rpc, pytest.raises(RemoteError) as again:
        rpc.identity.rotate_code_key()  # one rotation at a time
    assert again.value.exc_type == "Conflict"


def test_the_ring_over_time_signs_publishes_and_keeps_the_right_keys(
    city: dict[str, Any],
) -> None:
    """The timing of a rotation on the real database, at chosen moments."""
    wrap = b"k" * 32
    start = utcnow()
    lead = codekeys.LEAD.total_seconds()
    overlap = codekeys.OVERLAP.total_seconds()
    with identity_db(city["config"]) as db:
        keys = signing_keys.CollectionRing(db.ring_test)
        first = signing_keys.signer(keys, wrap, start)
        second = signing_keys.rotate(keys, wrap, start, codekeys.LEAD)
        assert ring_at(keys, wrap, start, 1) == (first.kid, [second.kid, first.kid])  # ahead
        assert ring_at(keys, wrap, start, lead + 1) == (second.kid, [second.kid, first.kid])
        assert ring_at(keys, wrap, start, lead + overlap + 1) == (second.kid, [second.kid])
        # A scan uploaded days later is checked with the key of its code's time.
        later = signing_keys.ring(keys, wrap, start + timedelta(days=3))
        then = signing_keys.of_time(later, start + timedelta(seconds=60))
        assert [k.kid for k in then] == [first.kid]
        # A compromised key: unpublished and refused from now, its successor signing now.
        moment = start + timedelta(seconds=lead + overlap + 10)
        third = signing_keys.withdraw(keys, wrap, moment)
        ring = signing_keys.ring(keys, wrap, moment)
        assert signing_keys.signing(ring, moment).kid == third.kid
        published = signing_keys.published(ring, moment, codekeys.OVERLAP)
        assert [k.kid for k in published] == [third.kid]
        before = moment - timedelta(seconds=5)
        assert second.kid in [k.kid for k in signing_keys.of_time(ring, before)]
        assert second.kid not in [k.kid for k in signing_keys.of_time(ring, moment)]


def ring_at(keys: Any, wrap: bytes, start: datetime, seconds: float) -> tuple[str, list[str]]:
    """Which key signs and which are published, ``seconds`` after ``start``."""
    moment = start + timedelta(seconds=seconds)
    ring = signing_keys.ring(keys, wrap, moment)
    published = signing_keys.published(ring, moment, codekeys.OVERLAP)
    return signing_keys.signing(ring, moment).kid, [k.kid for k in published]


def test_a_compromised_key_is_refused_at_once(city: dict[str, Any]) -> None:
    config = city["config"]
    with proxy(config, citizen(city)) as rpc:
        token = rpc.identity.issue_code()["token"]
    with proxy(config, ADMIN) as rpc:
        rotated = rpc.identity.rotate_code_key(compromised=True)
    assert rotated["signing_kid"] == rotated["next_kid"]  # the new key signs now
    with proxy(config, terminal_of(city)) as rpc, pytest.raises(RemoteError) as refused:
        rpc.identity.verify_code(token=token, scene="hotel")
    assert refused.value.exc_type == "InvalidInput"
    with proxy(config, None) as rpc:
        assert list(code_keys(rpc)) == [rotated["next_kid"]]
    with proxy(config, citizen(city)) as rpc:
        fresh = rpc.identity.issue_code()["token"]
    with proxy(config, terminal_of(city)) as rpc:
        assert rpc.identity.verify_code(token=fresh, scene="hotel")["result"] == "valid"


def offline(token: str, at: Any, result: str = "ok", scene: str = "hotel") -> dict[str, Any]:
    return {"token": token, "scene": scene, "scanned_at": at.isoformat(), "result": result}


def test_a_code_used_offline_is_not_accepted_online_and_a_second_terminal_is_flagged(
    city: dict[str, Any],
) -> None:
    config = city["config"]
    with proxy(config, citizen(city)) as rpc:
        token = rpc.identity.issue_code()["token"]
    with proxy(config, terminal_of(city)) as rpc:
        first = rpc.identity.upload_scan_logs(
            terminal_id="bus-7", entries=[offline(token, utcnow())]
        )
        again = rpc.identity.upload_scan_logs(
            terminal_id="bus-7", entries=[offline(token, utcnow())]
        )
        other = rpc.identity.upload_scan_logs(
            terminal_id="bus-9", entries=[offline(token, utcnow())]
        )
    assert (first["accepted"], first["second_uses"]) == (1, 0)
    assert (again["accepted"], again["duplicates"]) == (0, 1)  # the same upload again: nothing
    assert (other["accepted"], other["second_uses"]) == (1, 1)  # both kept, the second flagged
    with proxy(config, terminal_of(city)) as rpc, pytest.raises(RemoteError) as online:
        rpc.identity.verify_code(token=token, scene="hotel")
    assert online.value.exc_type == "Conflict"  # used offline: not again online
    with proxy(config, citizen(city)) as rpc:
        results = sorted(s["result"] for s in rpc.identity.list_my_scans(limit=10)["items"])
    assert results == ["ok", "replayed", "replayed"]


def test_offline_entries_are_checked_each_with_its_reason(city: dict[str, Any]) -> None:
    config = city["config"]
    with proxy(config, citizen(city)) as rpc:
        token = rpc.identity.issue_code()["token"]
    now = utcnow()
    entries = [
        offline(token, now + timedelta(minutes=5)),  # ahead of our clock
        offline(token, now - timedelta(minutes=5)),  # before the code was issued
        offline(token, now + timedelta(seconds=20)),  # within the skew: taken
        offline(token, now, scene="metro"),  # a scene this terminal is not registered for
        offline("not.a.code", now),
    ]
    with proxy(config, terminal_of(city)) as rpc:
        answer = rpc.identity.upload_scan_logs(terminal_id="bus-7", entries=entries)
    reasons = {r["index"]: r["reason"] for r in answer["rejected"]}
    assert reasons == {0: "future", 1: "clock", 3: "scene_not_allowed", 4: "forged"}
    assert answer["accepted"] == 1


def test_a_terminal_whose_clock_is_off_is_told_so(city: dict[str, Any]) -> None:
    config = city["config"]
    with proxy(config, citizen(city)) as rpc:
        token = rpc.identity.issue_code()["token"]
    behind = (utcnow() - timedelta(minutes=3)).isoformat()
    with proxy(config, terminal_of(city)) as rpc:
        answer = rpc.identity.verify_code(token=token, scene="hotel", terminal_time=behind)
    assert answer["result"] == "valid"  # the online check goes by our clock
    assert answer["clock"]["result"] == "clock"
    assert -190 < answer["clock"]["off_by_seconds"] < -170
    # Offline, the same terminal would find the code issued in its future: clock, not forged.
    with proxy(config, None) as rpc:
        held = code_keys(rpc)
    with pytest.raises(CodeRefused) as refused:
        read_code(token, held, utcnow().timestamp() - 180, leeway=codekeys.SKEW_SECONDS)
    assert refused.value.reason == "clock"
    assert read_code(token, held, utcnow().timestamp() - 20, leeway=codekeys.SKEW_SECONDS)


def test_a_frozen_person_is_told_why_and_where_and_terminals_only_that_it_is_frozen(
    city: dict[str, Any],
) -> None:
    config = city["config"]
    staff = Actor(account_id="acc_staff", roles=("staff",), org_path="C/NH")
    with proxy(config, staff) as rpc:
        rpc.identity.freeze_subject(subject_id=city["person"]["id"], reason="证件挂失")
    with proxy(config, citizen(city)) as rpc, pytest.raises(RemoteError) as refused:
        rpc.identity.issue_code()
    assert refused.value.exc_type == "Forbidden"  # what the person reads: tests/e2e
    with service_proxy(config, "certs") as rpc:
        brief = rpc.identity.subject_brief(subject_id=city["person"]["id"])
    assert brief["status"] == "frozen"
    assert brief["frozen"] == {"by": "staff", "reason": "证件挂失", "office": "南湖"}


def test_a_card_printed_before_cards_were_signed_works_online_until_replaced(
    city: dict[str, Any],
) -> None:
    config, person = city["config"], city["person"]
    code = cards.LEGACY_PREFIX + "k3v9Qz0-legacy-card"
    keys = PiiKeys.from_secret(load_settings(config).SECRET_KEY.get_secret_value())
    with identity_db(config) as db:
        db.printed_codes.insert_one(
            {
                "_id": keys.lookup_hash(code),
                "sub": person["id"],
                "sealed": keys.protect(code, f"printed:{person['id']}")["sealed"],
                "status": "active",
                "issued_at": utcnow() - timedelta(days=400),
            }
        )
    with proxy(config, terminal_of(city)) as rpc:
        answer = rpc.identity.verify_code(token=code, scene="hotel")
    assert answer["printed"] is True
    assert answer["fields"]["name"] == "李秀英"
    with proxy(config, ADMIN) as rpc:
        new = rpc.identity.issue_printed_code(person_id=person["id"])
    assert cardtoken.is_card(new["code"])
    with proxy(config, terminal_of(city)) as rpc, pytest.raises(RemoteError) as replaced:
        rpc.identity.verify_code(token=code, scene="hotel")
    assert replaced.value.exc_type == "InvalidInput"
    assert "replaced" in replaced.value.value
