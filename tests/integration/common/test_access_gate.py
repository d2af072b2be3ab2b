"""The access gate of a nameko service on the real broker: an operation its table does not
name is refused before any code runs; one whose rule names a resource but that answered
without asking its guard is answered as a bug, not with its result; an admitted one runs."""

from __future__ import annotations

from typing import Any

import pytest
from nameko.exceptions import RemoteError

from services.common.access import ADMIN, STAFF, AccessTable, Kind, Resource, Rule
from services.common.actor import Actor
from services.common.context import CallContext
from services.common.entrypoints import rpc
from tests.bus import gateway_proxy

TABLE = AccessTable(
    "planted",
    {
        "answered": Rule("Answer", roles=STAFF),
        "forgets_its_guard": Rule(
            "Read a thing", roles=STAFF, relations=(ADMIN,), resource="thing"
        ),
        "asks_its_guard": Rule("Read a thing", roles=STAFF, relations=(ADMIN,), resource="thing"),
    },
    {"thing": Kind("thing", visible=(ADMIN,))},
)
RAN: list[str] = []


class PlantedService:
    name = "planted"
    call = CallContext(TABLE)

    @rpc
    def answered(self) -> str:
        return "ok"

    @rpc
    def forgets_its_guard(self) -> str:
        return "the secret"

    @rpc
    def asks_its_guard(self) -> str:
        self.call.guard.require(Resource("thing"))
        return "ok"

    @rpc
    def unruled(self) -> str:
        RAN.append("unruled")
        return "should never run"


STAFF_ACTOR = Actor(account_id="acc_staff", roles=("staff",), org_path="C")
ADMIN_ACTOR = Actor(account_id="acc_admin", roles=("admin",))


@pytest.fixture
def planted(container_factory: Any, service_config: dict[str, Any]) -> dict[str, Any]:
    container_factory(PlantedService, service_config).start()
    return service_config


def test_an_operation_without_a_rule_is_refused_before_it_runs(planted: dict[str, Any]) -> None:
    with gateway_proxy(planted, ADMIN_ACTOR) as client, pytest.raises(RemoteError) as refused:
        client.planted.unruled()
    assert refused.value.exc_type == "Forbidden"
    assert "no access rule" in str(refused.value.value)
    assert RAN == []


def test_an_operation_that_never_asked_its_guard_is_a_bug(planted: dict[str, Any]) -> None:
    with gateway_proxy(planted, ADMIN_ACTOR) as client:
        with pytest.raises(RemoteError) as bug:
            client.planted.forgets_its_guard()
        assert client.planted.asks_its_guard() == "ok"
        assert client.planted.answered() == "ok"
    assert bug.value.exc_type == "AccessNotChecked"
    assert "the secret" not in str(bug.value)


def test_the_rule_decides_who_is_admitted(planted: dict[str, Any]) -> None:
    with gateway_proxy(planted, STAFF_ACTOR) as client:
        with pytest.raises(RemoteError) as hidden:
            client.planted.asks_its_guard()
        assert client.planted.answered() == "ok"
    assert hidden.value.exc_type == "NotFound"  # not visible to staff: as if absent
    citizen = Actor(account_id="acc_c", roles=("citizen",), subject_id="p_1")
    with gateway_proxy(planted, citizen) as client, pytest.raises(RemoteError) as role:
        client.planted.answered()
    assert role.value.exc_type == "Forbidden"
