"""Status lists (as W3C Bitstring Status List does): per issuer, one bit per certificate at
its ``status_index`` (1 = revoked, suspended, superseded, or a composite licence with a
part not valid), at least 131,072 entries, gzip-compressed,
base64url, signed by the issuer with the time it was published. Offline verifiers download it
and check a certificate's bit; its staleness is the time since ``published_at``."""

from __future__ import annotations

import gzip
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pymongo.database import Database

from services.certs.signing import canonical
from services.common.codec import format_time
from services.common.crypto import b64url, b64url_decode
from services.common.mongo import Document

MIN_ENTRIES = 131_072
NOT_VALID = ("revoked", "suspended", "superseded")


def encode(positions: list[int], size: int) -> str:
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


def publish(
    db: Database[Document], issuer: Document, key: Ed25519PrivateKey, now: datetime
) -> dict[str, Any]:
    positions = [
        c["status_index"]
        for c in db.certificates.find(
            {
                "issuer": issuer["_id"],
                # A composite licence with a part not valid is not valid either.
                "$or": [{"status": {"$in": list(NOT_VALID)}}, {"parts_failing": True}],
            },
            {"status_index": 1},
        )
    ]
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
