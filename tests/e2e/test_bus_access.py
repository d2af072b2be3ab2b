"""Messages published straight to RabbitMQ, as someone holding the broker's credentials would,
against the running suite: a forged or unsigned actor, an actor signed by a service (only the
gateway vouches for users), an expired one, bus-only operations called by a service that is
not theirs, and a genuine message copied off the broker and turned into another call (another
operation, other arguments, another user's actor) are all refused; the same call sealed as
the gateway seals it is answered."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pika
import pytest

from services.common.actor import Actor
from services.common.bus_identity import GATEWAY, BusKeys
from tests.conftest import Suite

ADMIN = Actor(account_id="acc_forged_admin", roles=("admin",))


class RawBus:
    """nameko's RPC protocol by hand: a request on ``nameko-rpc``, the reply on a queue of
    our own bound to it."""

    def __init__(self, suite: Suite) -> None:
        self.connection = pika.BlockingConnection(pika.URLParameters(suite.env["AMQP_URI"]))
        self.channel = self.connection.channel()
        self.reply_key = str(uuid.uuid4())
        self.queue = self.channel.queue_declare("", exclusive=True).method.queue
        self.channel.queue_bind(self.queue, "nameko-rpc", routing_key=self.reply_key)
        self.secret = suite.secret("SECRET_KEY")

    def keys(self, signer: str) -> BusKeys:
        return BusKeys.from_config({"ENVIRONMENT": "test", "SECRET_KEY": self.secret}, signer)

    def sealed(
        self, signer: str | None, method: str, actor: str | None, **kwargs: Any
    ) -> dict[str, Any]:
        """The headers ``signer`` would send to call ``method`` with ``kwargs`` for ``actor``
        (an actor header), and the correlation id they are sealed for."""
        correlation = str(uuid.uuid4())
        headers: dict[str, Any] = {"correlation": correlation}
        if signer is not None:
            body = {"args": [], "kwargs": kwargs}
            headers["caller"] = self.keys(signer).seal_call(method, correlation, body, actor)
        if actor is not None:
            headers["actor"] = actor
        return headers

    def call(self, method: str, headers: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """Publish ``method`` with ``headers`` (a ``correlation`` among them is the message's
        correlation id, else a fresh one) and wait for the reply."""
        headers = dict(headers)
        correlation = headers.pop("correlation", None) or str(uuid.uuid4())
        self.channel.basic_publish(
            "nameko-rpc",
            method,
            json.dumps({"args": [], "kwargs": kwargs}).encode(),
            pika.BasicProperties(
                content_type="application/json",
                content_encoding="utf-8",
                correlation_id=correlation,
                reply_to=self.reply_key,
                headers={f"nameko.{k}": v for k, v in headers.items()},
            ),
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            method_frame, properties, body = self.channel.basic_get(self.queue, auto_ack=True)
            if method_frame is None:
                self.connection.sleep(0.05)
                continue
            if properties.correlation_id == correlation:
                reply: dict[str, Any] = json.loads(body)
                return reply
        raise AssertionError(f"{method}: no reply")

    def close(self) -> None:
        self.connection.close()


@pytest.fixture
def bus(running_suite: Suite) -> Iterator[RawBus]:
    raw = RawBus(running_suite)
    yield raw
    raw.close()


def refused(reply: dict[str, Any]) -> str:
    assert reply["error"] is not None, reply
    return str(reply["error"]["exc_type"])


def test_an_actor_in_a_plain_header_is_refused(bus: RawBus) -> None:
    forged = {"actor": ADMIN.to_header()}
    assert refused(bus.call("identity.list_accounts", forged)) == "BusRefused"
    sealed = bus.sealed(GATEWAY, "identity.list_accounts", ADMIN.to_header())
    assert refused(bus.call("identity.list_accounts", sealed)) == "BusRefused"


def test_a_call_signed_by_nobody_is_refused_even_for_public_data(bus: RawBus) -> None:
    assert refused(bus.call("identity.code_jwks", {})) == "BusRefused"
    fake = {"caller": "eyJpc3MiOiJnYXRld2F5IiwiZXhwIjo5OTk5OTk5OTk5fQ.AAAA"}
    assert refused(bus.call("identity.code_jwks", fake)) == "BusRefused"


def test_only_the_gateway_vouches_for_a_user(bus: RawBus) -> None:
    certs = bus.keys("certs")
    # A service's key signs a payload shaped like the gateway's actor: still refused.
    payload = {"iss": "certs", "exp": int(time.time()) + 60, "actor": {"roles": ["admin"]}}
    forged = bus.sealed("certs", "identity.list_accounts", certs._seal(payload))
    assert refused(bus.call("identity.list_accounts", forged)) == "BusRefused"


def test_an_expired_actor_is_refused(bus: RawBus) -> None:
    gateway = bus.keys(GATEWAY)
    stale = {"iss": GATEWAY, "exp": int(time.time()) - 120, "actor": {"roles": ["admin"]}}
    headers = bus.sealed(GATEWAY, "identity.list_accounts", gateway._seal(stale))
    assert refused(bus.call("identity.list_accounts", headers)) == "BusRefused"


def test_the_same_call_sealed_as_the_gateway_seals_it_is_answered(
    bus: RawBus, demo: dict[str, Any]
) -> None:
    actor = bus.keys(GATEWAY).actor_header(ADMIN, None)
    headers = bus.sealed(GATEWAY, "identity.list_org_units", actor, root="CN-LN-SY")
    reply = bus.call("identity.list_org_units", headers, root="CN-LN-SY")
    assert reply["error"] is None, reply
    assert "CN-LN-SY/HP" in [u["path"] for u in reply["result"]]


def test_a_message_copied_off_the_broker_cannot_become_another_call(
    bus: RawBus, demo: dict[str, Any]
) -> None:
    """What an eavesdropper holding the broker's credentials has: a genuine administrator's
    message, seal and actor included. It is good for that message only."""
    admin = bus.keys(GATEWAY).actor_header(ADMIN, None)
    captured = bus.sealed(GATEWAY, "identity.list_org_units", admin, root="CN-LN-SY")
    new_admin = {"username": "bus.admin", "password": "Attack-pass-2026", "roles": ["admin"]}
    other_operation = captured  # its seal names list_org_units
    assert refused(bus.call("identity.create_account", other_operation, **new_admin)) == (
        "BusRefused"
    )
    assert refused(bus.call("identity.list_org_units", captured, root="CN-LN-SY/HP")) == (
        "BusRefused"  # the same operation with other arguments
    )
    citizen = bus.keys(GATEWAY).actor_header(Actor(account_id="acc_x", roles=("citizen",)), None)
    theirs = bus.sealed(GATEWAY, "identity.list_org_units", citizen, root="CN-LN-SY")
    swapped = {**theirs, "actor": admin}  # a citizen's sealed message with the admin's actor
    assert refused(bus.call("identity.list_org_units", swapped, root="CN-LN-SY")) == "BusRefused"
    # A service's seal is as narrow: policy's call of subject_profiles is not another call.
    profiles = bus.sealed("policy", "identity.subject_profiles", None, after="", limit=1)
    assert refused(bus.call("identity.subject_brief", profiles, subject_id="p_x")) == ("BusRefused")
    assert refused(bus.call("identity.subject_profiles", profiles, after="", limit=500)) == (
        "BusRefused"
    )


@pytest.mark.parametrize(
    ("method", "wrong", "right", "kwargs"),
    [
        ("identity.subject_profiles", "gateway", "policy", {"after": "", "limit": 1}),
        ("tasks.pending_webhooks", "certs", "gateway", {"limit": 1}),
        ("identity.authenticate", "tasks", "gateway", {"username": "x", "password": "y"}),
    ],
)
def test_a_bus_only_operation_answers_only_the_services_it_names(
    bus: RawBus, method: str, wrong: str, right: str, kwargs: dict[str, Any]
) -> None:
    admin_actor = bus.keys(GATEWAY).actor_header(ADMIN, None)
    assert refused(bus.call(method, bus.sealed(wrong, method, None, **kwargs), **kwargs)) in (
        "Unauthenticated",
        "Forbidden",
    )
    as_wrong = bus.sealed(wrong, method, admin_actor, **kwargs)
    assert refused(bus.call(method, as_wrong, **kwargs)) == "Forbidden"  # roles: none
    answer = bus.call(method, bus.sealed(right, method, None, **kwargs), **kwargs)
    assert answer["error"] is None or answer["error"]["exc_type"] == "Unauthenticated", answer
