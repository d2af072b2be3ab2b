"""Status lists (as W3C Bitstring Status List does): per issuer, one bit per certificate at
its ``status_index`` (1 = revoked, suspended, superseded, or a composite licence with a
part not valid), at least 131,072 entries, gzip-compressed,
base64url, signed by the issuer with the time it was published. Offline verifiers download it
and check a certificate's bit; its staleness is the time since ``published_at``."""

from __future__ import annotations

import gzip
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from services.certs import issuers
from services.certs.signing import canonical
from services.certs.store import CertsStore
from services.common.codec import format_time
from services.common.crypto import b64url, b64url_decode

MIN_ENTRIES = 131_072


def encode(positions: list[int], size: int) -> str:
    # ``size`` (the issuer's next place) may lag on FerretDB: the list holds every position.
    size = max([size, *(p + 1 for p in positions)])
    length = max(MIN_ENTRIES, -(-size // MIN_ENTRIES) * MIN_ENTRIES)
    bits = bytearray(length // 8)
    for position in positions:
        bits[position // 8] |= 0x80 >> (position % 8)
    return b64url(gzip.compress(bytes(bits), mtime=0))


def bit(encoded: str, position: int) -> bool:
    bits = gzip.decompress(b64url_decode(encoded))
    if position // 8 >= len(bits):
        return False
    return bool(bits[position // 8] & (0x80 >> (position % 8)))


def publish(store: CertsStore, wrap_key: bytes, issuer_id: str, now: datetime) -> dict[str, Any]:
    """The issuer's status list as of ``now``, signed with its seal."""
    issuer = issuers.get_issuer(store, issuer_id)
    key = issuers.signing_key(issuer, wrap_key)
    # A composite licence with a part not valid is not valid either.
    positions = store.not_valid_places(issuer["_id"])
    body = {
        "issuer": issuer["_id"],
        "kid": issuer["jwk"]["kid"],
        "published_at": format_time(now),
        "encoded_list": encode(positions, int(issuer.get("next_index", 0))),
    }
    return {**body, "signature": b64url(key.sign(canonical(body)))}


def verify_list(status_list: dict[str, Any], key: Ed25519PublicKey) -> bool:
    body = {k: status_list[k] for k in ("issuer", "kid", "published_at", "encoded_list")}
    try:
        key.verify(b64url_decode(status_list["signature"]), canonical(body))
    except Exception:
        return False
    return True
