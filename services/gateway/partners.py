"""Partner clients (other departments' systems): ``client_id`` + secret, with scopes.

Secrets are 256-bit random strings, so a keyed hash (HMAC-SHA256) is enough to store them;
the secret itself is shown once, when the client is created.
"""

from __future__ import annotations

import hmac
import re
import secrets
from typing import Any

from services.common.codec import to_wire, utcnow
from services.common.crypto import keyed_hash, seal
from services.common.errors import Conflict, InvalidInput, Unauthenticated
from services.gateway.store import GatewayStore

SCOPES = frozenset(
    {
        "codes:verify",
        "certs:read",
        "certs:verify",
        "facts:write",
        "tasks:write",
        "tasks:read",
        "payments:callback",
    }
)
_CLIENT_ID = re.compile(r"^[a-z0-9][a-z0-9-]{2,63}\Z")
_WEBHOOK_URL = re.compile(r"^https?://[^\s/]+(/[^\s]*)?\Z")


def validate_scopes(scopes: list[str]) -> list[str]:
    unknown = set(scopes) - SCOPES
    if unknown:
        raise InvalidInput(f"unknown scopes: {', '.join(sorted(unknown))}", field="scopes")
    return sorted(set(scopes))


def view(client: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = to_wire(
        {
            "client_id": client["_id"],
            "name": client["name"],
            "scopes": client["scopes"],
            "org_path": client.get("org_path"),
            "webhook_url": (client.get("webhook") or {}).get("url"),
            "status": client["status"],
            "created_at": client["created_at"],
        }
    )
    return result


async def create_client(
    store: GatewayStore,
    hash_key: bytes,
    client_id: str,
    name: str,
    scopes: list[str],
    org_path: str | None,
    secret: str | None = None,
    webhook_url: str | None = None,
    seal_key: bytes | None = None,
) -> dict[str, Any]:
    """Register a partner client; returns its view with the secret, and the key webhooks are
    signed with when it gave an address for them (each shown this once)."""
    if not _CLIENT_ID.match(client_id):
        raise InvalidInput("3–64 lowercase letters, digits or hyphens", field="client_id")
    secret = secret or secrets.token_urlsafe(32)
    shown: dict[str, Any] = {"client_secret": secret}
    webhook: dict[str, Any] | None = None
    if webhook_url:
        if not _WEBHOOK_URL.match(webhook_url):
            raise InvalidInput("an http(s) URL", field="webhook_url")
        assert seal_key is not None
        signing = secrets.token_urlsafe(32)
        webhook = {"url": webhook_url, "secret": seal(seal_key, signing, f"webhook:{client_id}")}
        shown["webhook_secret"] = signing
    client = {
        "_id": client_id,
        "name": name,
        "secret_hash": keyed_hash(hash_key, secret),
        "scopes": validate_scopes(scopes),
        "org_path": org_path,
        "webhook": webhook,
        "status": "active",
        "created_at": utcnow(),
    }
    if not await store.insert_partner_client(client):
        raise Conflict("this client_id is taken", field="client_id")
    return {**view(client), **shown}


async def authenticate_client(
    store: GatewayStore, hash_key: bytes, client_id: str, secret: str
) -> dict[str, Any]:
    refused = Unauthenticated("invalid client credentials")
    client = await store.load_partner_client(client_id)
    expected = client["secret_hash"] if client else keyed_hash(hash_key, "no-such-client")
    if not hmac.compare_digest(expected, keyed_hash(hash_key, secret)) or client is None:
        raise refused
    if client["status"] != "active":
        raise refused
    return {
        "account_id": f"client:{client['_id']}",
        "client_id": client["_id"],
        "name": client["name"],
        "roles": ["partner"],
        "scopes": client["scopes"],
        "org_path": client.get("org_path"),
    }


async def list_clients(store: GatewayStore) -> list[dict[str, Any]]:
    return [view(c) for c in await store.partner_clients()]
