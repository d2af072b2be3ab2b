"""identity over the real bus: accounts, jurisdiction, lockout, and domain errors that arrive
at the caller with their type, message and field."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ClusterRpcProxy

from services.common.actor import Actor
from services.identity.service import IdentityService
from tests.bus import gateway_proxy

ADMIN = Actor(account_id="acc_admin", roles=("admin",))


@pytest.fixture
def identity(container_factory: Any, service_config: dict[str, Any]) -> Iterator[dict[str, Any]]:
    container = container_factory(IdentityService, service_config)
    container.start()
    return service_config


def proxy(config: dict[str, Any], actor: Actor | None) -> ClusterRpcProxy:
    return gateway_proxy(config, actor)


def build_city(config: dict[str, Any]) -> None:
    with proxy(config, ADMIN) as rpc:
        rpc.identity.create_org_unit(code="C", name="市", kind="city")
        rpc.identity.create_org_unit(code="HP", name="和平区", kind="district", parent="C")
        rpc.identity.create_org_unit(code="NH", name="南湖街道", kind="street", parent="C/HP")
        rpc.identity.create_org_unit(code="TYJ", name="太原街街道", kind="street", parent="C/HP")


def test_domain_errors_cross_the_bus_with_type_and_field(identity: dict[str, Any]) -> None:
    build_city(identity)
    with proxy(identity, ADMIN) as rpc:
        with pytest.raises(RemoteError) as duplicate:
            rpc.identity.create_org_unit(code="NH", name="again", kind="street", parent="C/HP")
        with pytest.raises(RemoteError) as invalid:
            rpc.identity.create_org_unit(code="X", name="x", kind="street", parent="C/HP/NH")
    assert duplicate.value.exc_type == "Conflict"
    assert duplicate.value.value == "an org unit with this code already exists here"
    assert invalid.value.exc_type == "InvalidInput"
    assert invalid.value.value == "a street cannot sit below a street"


def test_staff_of_one_street_cannot_see_an_account_of_another(identity: dict[str, Any]) -> None:
    build_city(identity)
    with proxy(identity, ADMIN) as rpc:
        rpc.identity.create_account(
            username="staff.nh", password="pass-word-1", roles=["staff"], org_path="C/HP/NH"
        )
        other = rpc.identity.create_account(
            username="citizen.tyj",
            password="pass-word-1",
            roles=["enterprise"],
            org_path="C/HP/TYJ",
        )
        mine = rpc.identity.create_account(
            username="citizen.nh", password="pass-word-1", roles=["enterprise"], org_path="C/HP/NH"
        )
        claims = rpc.identity.authenticate(username="staff.nh", password="pass-word-1")
    staff = Actor(account_id=claims["account_id"], roles=("staff",), org_path="C/HP/NH")
    with proxy(identity, staff) as rpc:
        assert rpc.identity.get_account(account_id=mine["id"])["username"] == "citizen.nh"
        with pytest.raises(RemoteError) as hidden:
            rpc.identity.get_account(account_id=other["id"])
        with pytest.raises(RemoteError) as missing:
            rpc.identity.get_account(account_id="acc_does_not_exist")
        with pytest.raises(RemoteError) as elsewhere:
            rpc.identity.create_account(
                username="intruder",
                password="pass-word-1",
                roles=["enterprise"],
                org_path="C/HP/TYJ",
            )
        listed = rpc.identity.list_accounts()
    # Outside the jurisdiction looks exactly like not existing.
    assert hidden.value.exc_type == missing.value.exc_type == "NotFound"
    assert hidden.value.value == missing.value.value
    assert elsewhere.value.exc_type == "NotFound"
    assert {a["username"] for a in listed["items"]} == {"staff.nh", "citizen.nh"}


def test_five_wrong_passwords_lock_the_name_from_that_address(identity: dict[str, Any]) -> None:
    build_city(identity)
    with proxy(identity, ADMIN) as rpc:
        rpc.identity.create_account(
            username="citizen.wang",
            password="right-password",
            roles=["enterprise"],
            org_path="C/HP/NH",
        )
    here, there = "203.0.113.7", "198.51.100.9"

    def attempt(rpc: Any, name: str, password: str, address: str) -> str:
        try:
            rpc.identity.authenticate(username=name, password=password, address=address)
        except RemoteError as refused:
            return str(refused.exc_type)
        return "ok"

    with proxy(identity, None) as rpc:
        for name in ("citizen.wang", "nobody.here"):  # a lock says nothing of who exists
            tries = [attempt(rpc, name, "wrong-password", here) for _ in range(5)]
            assert tries == ["Unauthenticated"] * 5
            assert attempt(rpc, name, "right-password", here) == "RateLimited"
        # Someone else's five tries do not lock the person out where they are, and the
        # person's login does not lift the attacker's lock (that would tell the name is real).
        assert attempt(rpc, "citizen.wang", "right-password", there) == "ok"
        assert attempt(rpc, "citizen.wang", "right-password", here) == "RateLimited"
        # Fifty failures from anywhere lock the name, except where its owner signs in.
        for i in range(45):
            attempt(rpc, "citizen.wang", "wrong-password", f"192.0.2.{i}")
        assert attempt(rpc, "citizen.wang", "right-password", "198.51.100.77") == "RateLimited"
        assert attempt(rpc, "citizen.wang", "right-password", there) == "ok"


def test_the_first_admin_comes_from_the_environment(
    container_factory: Any, service_config: dict[str, Any]
) -> None:
    config = {
        **service_config,
        "FIRST_ADMIN_USER": "root",
        "FIRST_ADMIN_PASSWORD": "first-admin-pw",
    }
    container_factory(IdentityService, config).start()
    with proxy(config, None) as rpc:
        claims = rpc.identity.authenticate(username="root", password="first-admin-pw")
    assert claims["roles"] == ["admin"]
    # A restart with another password does not overwrite the existing admin.
    second = {**config, "FIRST_ADMIN_PASSWORD": "changed-in-env"}
    container_factory(IdentityService, second).start()
    with proxy(config, None) as rpc:
        assert rpc.identity.authenticate(username="root", password="first-admin-pw")


def test_an_assessor_or_auditor_is_an_account_of_its_own_made_by_an_administrator(
    identity: dict[str, Any],
) -> None:
    build_city(identity)
    doctor = {"username": "doctor.cl", "password": "pass-word-1", "roles": ["assessor"]}
    with proxy(identity, ADMIN) as rpc:
        rpc.identity.create_org_unit(code="CL", name="区残联", kind="department", parent="C/HP")
        refusals = {}
        for name, body in {
            "with_staff": {**doctor, "roles": ["staff", "assessor"], "org_path": "C/HP/CL"},
            "on_a_street": {**doctor, "org_path": "C/HP/NH", "display_name": "张医生"},
            "unnamed": {**doctor, "org_path": "C/HP/CL"},
            "auditing_too": {**doctor, "roles": ["auditor", "staff"], "org_path": "C/HP"},
        }.items():
            with pytest.raises(RemoteError) as refused:
                rpc.identity.create_account(**body)
            refusals[name] = (refused.value.exc_type, refused.value.value)
        made = rpc.identity.create_account(**doctor, org_path="C/HP/CL", display_name="张医生")
        rpc.identity.create_account(
            username="supervisor.hp", password="pass-word-1", roles=["supervisor"], org_path="C/HP"
        )
        claims = rpc.identity.authenticate(username="supervisor.hp", password="pass-word-1")
    assert made["roles"] == ["assessor"]
    assert refusals == {
        "with_staff": ("InvalidInput", "assessor is held alone"),
        "on_a_street": ("InvalidInput", "an assessor is bound to the issuing department"),
        "unnamed": ("InvalidInput", "an assessor's account names the doctor"),
        "auditing_too": ("InvalidInput", "auditor is held alone"),
    }
    supervisor = Actor(account_id=claims["account_id"], roles=("supervisor",), org_path="C/HP")
    with proxy(identity, supervisor) as rpc:
        for role in ("assessor", "auditor"):
            with pytest.raises(RemoteError) as not_theirs:
                rpc.identity.create_account(
                    username=f"fake.{role}",
                    password="pass-word-1",
                    roles=[role],
                    org_path="C/HP/CL",
                    display_name="冒名医生",
                )
            assert not_theirs.value.exc_type == "Forbidden"
