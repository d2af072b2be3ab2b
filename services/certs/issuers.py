"""Issuers: departments (org units) allowed to issue some certificate types, each with its own
Ed25519 signing key (its electronic seal), sealed at rest; the public keys are published."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.certs.access import area_of
from services.certs.catalogue import get_type
from services.certs.store import CertsStore
from services.common.actor import within
from services.common.codec import to_wire, utcnow
from services.common.crypto import (
    generate_signing_key,
    public_jwk,
    seal_private_key,
    unseal_private_key,
)
from services.common.document import Document
from services.common.errors import Conflict, InvalidInput, NotFound

_CODE = re.compile(r"^[A-Z][A-Z0-9]{1,15}\Z")


def view(issuer: Document) -> dict[str, Any]:
    return to_wire(
        {
            "id": issuer["_id"],
            "code": issuer["code"],
            "name": issuer["name"],
            "org_path": issuer["org_path"],
            "area": issuer.get("area") or area_of(issuer),
            "types": issuer["types"],
            "kid": issuer["jwk"]["kid"],
        }
    )


def create_issuer(
    store: CertsStore,
    wrap_key: bytes,
    code: str,
    name: str,
    org_path: str,
    types: list[str],
    area: str | None = None,
) -> dict[str, Any]:
    """An issuing department (``org_path``: its staff act for it) serving ``area`` (by
    default the unit the department belongs to)."""
    if not isinstance(org_path, str) or not org_path:
        raise InvalidInput("an org unit path", field="org_path")
    if area is not None and not (isinstance(area, str) and within(org_path, area)):
        raise InvalidInput("a unit at or above the department's", field="area")
    if not isinstance(code, str) or not _CODE.match(code):
        raise InvalidInput("2–16 capital letters or digits, starting with a letter", field="code")
    if not isinstance(types, list) or not types:
        raise InvalidInput("a non-empty list of certificate types", field="types")
    for cert_type in types:
        get_type(store, cert_type)
    key = generate_signing_key()
    jwk = public_jwk(key.public_key())
    issuer = {
        "_id": f"iss_{code.lower()}",
        "code": code,
        "name": name,
        "org_path": org_path,
        "area": area,
        "types": sorted(set(types)),
        "jwk": jwk,
        "sealed_private": seal_private_key(wrap_key, key, jwk["kid"]),
        "next_index": 0,
        "created_at": utcnow(),
    }
    if not store.insert_issuer(issuer):
        raise Conflict("an issuer with this code exists", field="code")
    return view(issuer)


def get_issuer(store: CertsStore, issuer_id: Any) -> Document:
    issuer = store.load_issuer(issuer_id) if isinstance(issuer_id, str) else None
    if issuer is None:
        raise NotFound("no such issuer", field="issuer")
    return issuer


def signing_key(issuer: Document, wrap_key: bytes) -> Ed25519PrivateKey:
    return unseal_private_key(wrap_key, issuer["sealed_private"], issuer["jwk"]["kid"])


def allocate_index(store: CertsStore, issuer: Document, now: datetime) -> int:
    """The next free position in the issuer's status list, claimed once (see common.claims).
    ``next_index`` on the issuer is a hint where to start (kept with $max; on FerretDB it can
    lag by the number of concurrent issues, which only costs a few extra claims)."""
    return store.take_place(issuer["_id"], now)


def list_issuers(store: CertsStore) -> list[dict[str, Any]]:
    return [view(i) for i in store.issuers()]


def public_keys(store: CertsStore) -> dict[str, Any]:
    return {"keys": [{**i["jwk"], "issuer": i["_id"]} for i in store.issuers({"jwk": 1})]}
