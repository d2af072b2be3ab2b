"""Offline verification of a personal or enterprise code, or of a printed card, as a terminal
with no network does.

    python -m services.identity.verify TOKEN --jwks jwks.json [--status cards.jwt]

``jwks.json`` is ``GET /.well-known/jwks.json`` fetched (and cached, for its max-age) while
online; ``cards.jwt`` is ``GET /v1/codes/printed/status-list`` (a Token Status List, kept
for its ``ttl``), needed for printed cards: a card is accepted offline only with a list
signed by a key of the JWKS and not expired, and it says whether the card was replaced
(``revoked``) or its holder frozen (``suspended``). Prints the verdict as JSON; exit code 0
when valid, 1 otherwise. The terminal's clock may be off by 30 s either way; a code issued
later than that by this clock's reading is ``clock`` (set the clock right), not ``forged``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from services.common import token_status
from services.common.crypto import public_key_from_jwk
from services.identity.cardtoken import card_keys, card_status, code_keys, is_card, read_card
from services.identity.codekeys import SKEW_SECONDS
from services.identity.codetoken import SUBJECT_TYPES, CodeRefused, read_code


def _keys(jwks: dict[str, Any]) -> dict[str, Ed25519PublicKey]:
    keys = {}
    for jwk in jwks.get("keys", []):
        try:
            keys[str(jwk["kid"])] = public_key_from_jwk(jwk)
        except (KeyError, ValueError, TypeError):
            continue
    return keys


def verify_card(
    token: str, keys: dict[str, Ed25519PublicKey], status_list: str | None, now: float
) -> tuple[bool, dict[str, object]]:
    try:
        claims = read_card(token, keys, now, SKEW_SECONDS)
    except CodeRefused as refused:
        return False, {"valid": False, "printed": True, "reason": refused.reason}
    if status_list is None:
        return False, {"valid": False, "printed": True, "reason": "no_status_list"}
    try:
        listed = token_status.read(status_list, keys, now)
        status = card_status(claims, listed)
    except token_status.StatusListError as error:
        return False, {"valid": False, "printed": True, "reason": "status_list", "why": str(error)}
    verdict: dict[str, object] = {
        "valid": status == "valid",
        "printed": True,
        "subject_type": "person",
        "list_issued_at": listed["iat"],
    }
    return status == "valid", verdict if status == "valid" else {**verdict, "reason": status}


def verify(
    token: str, jwks: dict[str, Any], now: float, status_list: str | None = None
) -> tuple[bool, dict[str, object]]:
    keys = _keys(jwks)
    if is_card(token.strip()):
        return verify_card(token.strip(), card_keys(keys), status_list, now)
    try:
        claims = read_code(token.strip(), code_keys(keys), now, leeway=SKEW_SECONDS)
    except CodeRefused as refused:
        return False, {"valid": False, "reason": refused.reason}
    return True, {
        "valid": True,
        "subject_type": SUBJECT_TYPES.get(claims.subject_type, "unknown"),
        "claims": asdict(claims),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Verify a one-code-city code offline.")
    parser.add_argument("token", help="the code's text (what the QR holds)")
    parser.add_argument("--jwks", required=True, type=Path, help="cached /.well-known/jwks.json")
    parser.add_argument(
        "--status", type=Path, default=None, help="cached printed-card status list (a JWT)"
    )
    parser.add_argument(
        "--at", type=float, default=None, help="as of this Unix time (default: this clock's)"
    )
    args = parser.parse_args(argv)
    at = time.time() if args.at is None else args.at
    listed = args.status.read_text().strip() if args.status else None
    valid, verdict = verify(args.token, json.loads(args.jwks.read_text()), at, listed)
    print(json.dumps(verdict, ensure_ascii=False))
    return 0 if valid else 1


if __name__ == "__main__":
    sys.exit(main())
