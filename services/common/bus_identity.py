"""Signed call context on the bus: who sends a message, and for which user.

Anyone who can publish to RabbitMQ could otherwise name any actor in a plain header. So two
headers travel with every RPC, each signed with Ed25519:

* ``nameko.caller``: the sender's seal over this one message, signed by the sender itself
  (the gateway, or a service calling another one): ``{"iss": "certs", "exp": …, "op":
  "identity.subject_brief", "cid": <correlation id>, "sha": <digest of the body>, "act":
  <digest of the actor header>}``. Every process seals each call it makes, so it names the
  immediate caller and holds only for that operation, those arguments and that actor: a
  message copied off the broker can be sent again only as itself (a redelivery, which every
  state change already survives), never turned into another call or another user's.
* ``nameko.actor``: the user the gateway authenticated, signed by the gateway only, with the
  request id and a short expiry: ``{"iss": "gateway", "exp": …, "rid": …, "actor": {…}}``.
  Services forward it unchanged to the services they ask in turn (each such call sealed by
  the forwarding service).

A header is ``base64url(JSON) "." base64url(signature)``. A service refuses a call whose
caller is missing, unsigned, signed by an unknown key or expired, and an actor signed by
anyone but the gateway (:mod:`services.common.entrypoints`).

Keys: each process signs with its own key (``BUS_SIGNING_KEY``, a base64url Ed25519 seed)
and trusts the public keys in ``BUS_TRUSTED_KEYS`` (``gateway=<base64url>,identity=…``).
On one machine, with neither set, each key is derived from the deployment secret (so every
process of the local suite agrees without configuration); production refuses that.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from services.common.actor import Actor
from services.common.config import CommonSettings, load_settings
from services.common.crypto import b64url, b64url_decode, derive_key
from services.common.errors import Unauthenticated

SIGNERS = ("gateway", "identity", "certs", "policy", "tasks")
GATEWAY = "gateway"
# A signed actor lives as long as a request may take through its nested calls.
ACTOR_TTL = 60
CALLER_TTL = 120
CLOCK_SKEW = 30
_CACHE_LIMIT = 4096


class BusRefused(Unauthenticated):
    """A message whose context is not signed by a trusted sender."""


def _seed(secret: str, signer: str) -> bytes:
    return derive_key(secret, f"bus-signer:{signer}")


def _public_raw(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@dataclass
class BusKeys:
    signer: str
    private: Ed25519PrivateKey
    trusted: Mapping[str, Ed25519PublicKey]

    def __post_init__(self) -> None:
        self._opened: dict[str, tuple[str, dict[str, Any]]] = {}

    @classmethod
    def from_config(cls, config: Mapping[str, Any], signer: str) -> BusKeys:
        """From a nameko service's config."""
        settings = load_settings(config)
        own, listed = config.get("BUS_SIGNING_KEY"), config.get("BUS_TRUSTED_KEYS")
        return cls.from_settings(settings, own, listed, signer)

    @classmethod
    def from_settings(cls, settings: CommonSettings, own: Any, listed: Any, signer: str) -> BusKeys:
        if own and listed:
            private = Ed25519PrivateKey.from_private_bytes(b64url_decode(str(own)))
            trusted = {}
            for item in str(listed).split(","):
                name, _, raw = item.strip().partition("=")
                trusted[name] = Ed25519PublicKey.from_public_bytes(b64url_decode(raw))
            return cls(signer, private, trusted)
        if settings.ENVIRONMENT == "production":
            raise ValueError("production needs BUS_SIGNING_KEY and BUS_TRUSTED_KEYS")
        secret = settings.SECRET_KEY.get_secret_value()

        def derived(name: str) -> Ed25519PrivateKey:
            return Ed25519PrivateKey.from_private_bytes(_seed(secret, name))

        trusted = {name: derived(name).public_key() for name in SIGNERS}
        return cls(signer, derived(signer), trusted)

    @staticmethod
    def public_key_text(seed_b64: str) -> str:
        """The public key of a seed, as ``BUS_TRUSTED_KEYS`` lists it (for deployment)."""
        return b64url(_public_raw(Ed25519PrivateKey.from_private_bytes(b64url_decode(seed_b64))))

    # signing

    def _seal(self, payload: dict[str, Any]) -> str:
        body = b64url(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode())
        return f"{body}.{b64url(self.private.sign(body.encode()))}"

    def seal_call(self, operation: str, correlation_id: str, body: Any, actor: Any) -> str:
        """This process's seal on one message: ``operation`` (``service.method``), its
        correlation id, its body (``{"args", "kwargs"}`` as the receiver will read it) and
        the actor header it carries (or None)."""
        return self._seal(
            {
                "iss": self.signer,
                "exp": int(time.time()) + CALLER_TTL,
                "op": operation,
                "cid": correlation_id,
                "sha": body_digest(body),
                "act": header_digest(actor),
            }
        )

    def actor_header(self, actor: Actor, request_id: str | None) -> str:
        """The gateway's word on who the user is, for one request."""
        if self.signer != GATEWAY:
            raise ValueError("only the gateway signs actors")
        payload = {
            "iss": self.signer,
            "exp": int(time.time()) + ACTOR_TTL,
            "rid": request_id,
            "actor": asdict(actor),
        }
        return self._seal(payload)

    def seal_event(self, event_type: str, digest: str) -> str:
        """This service's word that it emitted exactly this event (no expiry: an event may
        wait in its queue)."""
        return self._seal({"iss": self.signer, "evt": event_type, "sha": digest})

    # verifying

    def open_event(self, header: Any, source: str, digest: str) -> None:
        """Refuse an event not signed by ``source`` over exactly this type and payload."""
        if not isinstance(header, str) or header.count(".") != 1:
            raise BusRefused("the event is not signed")
        signer, payload = self._verify(header)
        if signer != source or payload.get("sha") != digest:
            raise BusRefused(f"the event is not {source}'s, or not as it signed it")

    def open(self, header: Any) -> tuple[str, dict[str, Any]]:
        """The signer and payload of a header, or :class:`BusRefused`."""
        if not isinstance(header, str) or header.count(".") != 1:
            raise BusRefused("the call's context is not signed")
        found = self._opened.get(header)
        if found is None:
            found = self._verify(header)
            if len(self._opened) >= _CACHE_LIMIT:
                self._opened.clear()
            self._opened[header] = found
        signer, payload = found
        if float(payload.get("exp", 0)) + CLOCK_SKEW < time.time():
            raise BusRefused("the call's context has expired")
        return signer, payload

    def _verify(self, header: str) -> tuple[str, dict[str, Any]]:
        body, _, signature = header.partition(".")
        try:
            payload = json.loads(b64url_decode(body))
            signer = payload["iss"]
            key = self.trusted[signer]
            key.verify(b64url_decode(signature), body.encode())
        except (ValueError, KeyError, TypeError, InvalidSignature) as exc:
            raise BusRefused("the call's context is not signed by a trusted sender") from exc
        if not isinstance(payload, dict):
            raise BusRefused("the call's context is malformed")
        return str(signer), payload

    def caller_of(self, header: Any) -> str:
        signer, _payload = self.open(header)
        return signer

    def open_call(
        self, header: Any, operation: str, correlation_id: Any, body: Any, actor: Any
    ) -> str:
        """The signer of a message's seal, refused unless it seals exactly this operation,
        message, body and actor."""
        signer, payload = self.open(header)
        if (
            payload.get("op") != operation
            or payload.get("cid") != correlation_id
            or payload.get("sha") != body_digest(body)
            or payload.get("act") != header_digest(actor)
        ):
            raise BusRefused("the call's seal is not for this message")
        return signer

    def actor_of(self, header: Any) -> Actor | None:
        """The user a gateway-signed header names (None: no header, a call of the system)."""
        if header is None:
            return None
        signer, payload = self.open(header)
        if signer != GATEWAY or not isinstance(payload.get("actor"), dict):
            raise BusRefused("only the gateway vouches for a user")
        return Actor.from_mapping(payload["actor"])


def body_digest(body: Any) -> str:
    """A message body as JSON in one order (what the receiver decodes is what was sealed)."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def header_digest(header: Any) -> str | None:
    return hashlib.sha256(header.encode()).hexdigest() if isinstance(header, str) else None


def main() -> None:
    """``python -m services.common.bus_identity``: fresh keys for a deployment: one
    ``BUS_SIGNING_KEY`` per process kind (keep each in that process's secret) and the
    ``BUS_TRUSTED_KEYS`` every process is given."""
    trusted = []
    for signer in SIGNERS:
        seed = b64url(Ed25519PrivateKey.generate().private_bytes_raw())
        print(f"BUS_SIGNING_KEY ({signer}): {seed}")
        trusted.append(f"{signer}={BusKeys.public_key_text(seed)}")
    print("BUS_TRUSTED_KEYS: " + ",".join(trusted))


if __name__ == "__main__":
    main()
