"""Events on the real broker: a listener takes an event only when the service it listens to
signed exactly that event; an unsigned one, or one whose payload was changed after signing,
is dropped (someone with the broker's credentials cannot tell policy a certificate exists)."""

from __future__ import annotations

import time
from typing import Any

from kombu import Connection, Exchange
from kombu.pools import producers
from nameko.testing.services import dummy, entrypoint_hook

from services.common.bus_identity import BusKeys
from services.common.events import (
    HEADER,
    SignedEventDispatcher,
    as_delivered,
    digest,
    event_handler,
)

HEARD: list[dict[str, Any]] = []


class Listener:
    name = "listener"

    @event_handler("certs", "cert_issued")
    def on_cert_issued(self, payload: dict[str, Any]) -> None:
        HEARD.append(payload)


class Emitter:
    """Stands for certs: dispatches as certs does (its name is what the listener trusts)."""

    name = "certs"
    dispatch = SignedEventDispatcher()

    @dummy  # type: ignore[misc]
    def emit(self, payload: dict[str, Any]) -> None:
        self.dispatch("cert_issued", payload)


def publish(config: dict[str, Any], payload: dict[str, Any], headers: dict[str, str]) -> None:
    exchange = Exchange("certs.events", type="topic", durable=True)
    with (
        Connection(config["AMQP_URI"]) as connection,
        producers[connection].acquire(block=True) as producer,
    ):
        producer.publish(
            payload,
            exchange=exchange,
            routing_key="cert_issued",
            serializer="json",
            headers=headers,
            declare=[exchange],
            retry=True,
        )


def test_only_events_the_source_signed_are_heard(
    container_factory: Any, service_config: dict[str, Any]
) -> None:
    HEARD.clear()
    container_factory(Listener, service_config).start()
    forged = {"subject": "p_forged", "type": "disability_certificate", "status": "valid"}
    publish(service_config, forged, {})
    certs = BusKeys.from_config(service_config, "certs")
    genuine = {"subject": "p_genuine", "type": "disability_certificate", "status": "valid"}
    signature = certs.seal_event("cert_issued", digest("cert_issued", as_delivered(genuine)))
    publish(service_config, {**genuine, "subject": "p_altered"}, {HEADER: signature})
    gateway = BusKeys.from_config(service_config, "gateway")  # a key, but not certs'
    by_another = gateway.seal_event("cert_issued", digest("cert_issued", as_delivered(forged)))
    publish(service_config, forged, {HEADER: by_another})
    publish(service_config, genuine, {HEADER: signature})
    deadline = time.monotonic() + 20
    while not HEARD and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [genuine] == HEARD  # the three before it were decided first, and dropped


def test_a_service_dispatching_signs_what_it_sends(
    container_factory: Any, service_config: dict[str, Any]
) -> None:
    HEARD.clear()
    container_factory(Listener, service_config).start()
    emitter = container_factory(Emitter, service_config)
    emitter.start()
    payload = {"subject": "p_dispatched", "type": "disability_certificate", "status": "valid"}
    with entrypoint_hook(emitter, "emit") as emit:
        emit(payload)
    deadline = time.monotonic() + 20
    while not HEARD and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [payload] == HEARD
