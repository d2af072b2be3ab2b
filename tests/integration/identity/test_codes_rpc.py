"""Codes on the real broker and database: single use under concurrency, key rotation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import eventlet
import pymongo
import pytest
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ClusterRpcProxy

from services.common.actor import Actor
from services.common.codec import utcnow
from services.common.crypto import public_key_from_jwk
from services.identity import codekeys
from services.identity.codetoken import read_code
from services.identity.service import IdentityService
from tests.bus import gateway_proxy
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


def test_rotation_keeps_old_codes_valid_until_they_expire(city: dict[str, Any]) -> None:
    config = city["config"]
    with proxy(config, citizen(city)) as rpc:
        old_token = rpc.identity.issue_code()["token"]
    with proxy(config, None) as rpc:
        old_kids = [k["kid"] for k in rpc.identity.code_jwks()["keys"]]
    with proxy(config, ADMIN) as rpc:
        new_kid = rpc.identity.rotate_code_key()["active_kid"]
    with proxy(config, citizen(city)) as rpc:
        new_token = rpc.identity.issue_code()["token"]
    with proxy(config, None) as rpc:
        jwks = rpc.identity.code_jwks()
    assert old_kids == [old_kids[0]]
    assert new_kid != old_kids[0]
    published = {k["kid"]: public_key_from_jwk(k) for k in jwks["keys"]}
    assert set(published) == {old_kids[0], new_kid}
    # Both verify offline with the published set; the new code carries the new kid.
    now = utcnow().timestamp()
    assert read_code(old_token, published, now).sub == city["person"]["id"]
    assert read_code(new_token, published, now).sub == city["person"]["id"]
    assert new_token.split(".")[0] != old_token.split(".")[0]
    terminal = Actor(
        account_id=city["terminal"]["id"], roles=("verifier",), extra={"scenes": ["hotel"]}
    )
    with proxy(config, terminal) as rpc:
        assert rpc.identity.verify_code(token=old_token, scene="hotel")["result"] == "valid"
    # Once every code the old key signed has expired, it is no longer published.
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(config["MONGO_URL"])
    try:
        db = client[f"{config['DB_PREFIX']}identity"]
        later = utcnow() + timedelta(seconds=300) + codekeys.CLOCK_SKEW + timedelta(seconds=1)
        assert [k["_id"] for k in codekeys.published(db, later)] == [new_kid]
        assert [k["_id"] for k in codekeys.published(db, utcnow())] == [new_kid, old_kids[0]]
        stored = db.code_keys.find_one({"_id": new_kid})
        assert stored is not None
        assert set(stored) == {
            "_id",
            "slot",
            "jwk",
            "sealed_private",
            "created_at",
            "retired_at",
            "publish_until",
        }
        assert stored["sealed_private"].startswith("v1.")  # sealed, never in clear
    finally:
        client.close()
