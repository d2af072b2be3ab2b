"""Events on the bus, signed by the service that emits them.

An event says a fact happened (``cert_issued``, ``subject_registered``) and its consumers act
on it (policy learns a disability certificate's facts from ``cert_issued``): an event anyone
could publish would be a way past the access model. So the dispatcher signs, with its own
bus key (:mod:`services.common.bus_identity`), the event's type and a digest of its payload
as it travels; a handler takes an event only when the service it listens to signed exactly
that event, and drops anything else with an error in the log (it is not put back: it would
be refused again). The signature carries no expiry: an event may wait in its queue while
its consumer is down, and a replay changes nothing (consumers key what they receive).
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from kombu.serialization import dumps, loads
from nameko.events import EventDispatcher, EventHandler

from services.common.bus_identity import BusKeys, BusRefused

log = logging.getLogger(__name__)
HEADER = "nameko.event_signature"


def digest(event_type: str, payload: Any) -> str:
    """Over the payload as a consumer will read it (through the wire's JSON), in one order."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{event_type}\n{canonical}".encode()).hexdigest()


def as_delivered(payload: Any) -> Any:
    content_type, encoding, body = dumps(payload, serializer="json")  # type: ignore[no-untyped-call]
    return loads(body, content_type, encoding)  # type: ignore[no-untyped-call]


class SignedEventDispatcher(EventDispatcher):  # type: ignore[misc]
    def setup(self) -> None:
        super().setup()
        self.keys = BusKeys.from_config(self.container.config, self.container.service_name)

    def get_dependency(self, worker_ctx: Any) -> Any:
        extra_headers = self.get_message_headers(worker_ctx)

        def dispatch(event_type: str, event_data: Any) -> None:
            signed = self.keys.seal_event(event_type, digest(event_type, as_delivered(event_data)))
            self.publisher.publish(
                event_data,
                exchange=self.exchange,
                routing_key=event_type,
                extra_headers={**extra_headers, HEADER: signed},
            )

        return dispatch


class SignedEventHandler(EventHandler):  # type: ignore[misc]
    def setup(self) -> None:
        super().setup()
        self.keys = BusKeys.from_config(self.container.config, self.container.service_name)

    def handle_message(self, body: Any, message: Any) -> None:
        signature = (message.headers or {}).get(HEADER)
        try:
            self.keys.open_event(signature, self.source_service, digest(self.event_type, body))
        except BusRefused as refused:
            log.error(
                "event dropped: %s",
                refused,
                extra={"source": self.source_service, "event": self.event_type},
            )
            self.queue_consumer.ack_message(message)
            return
        super().handle_message(body, message)


event_handler = SignedEventHandler.decorator
