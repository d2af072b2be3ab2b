"""Offline verification of a personal or enterprise code, as a terminal with no network does.

    python -m services.identity.verify TOKEN --jwks jwks.json

``jwks.json`` is ``GET /.well-known/jwks.json`` fetched (and cached, for its max-age) while
online. Prints the verdict and the claims as JSON; exit code 0 when the code is valid, 1
otherwise. The terminal's clock may be off by 30 s either way; a code issued later than that
by this clock's reading is ``clock`` (set the clock right), not ``forged``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from services.common.crypto import public_key_from_jwk
from services.identity.codekeys import SKEW_SECONDS
from services.identity.codetoken import SUBJECT_TYPES, CodeRefused, read_code


def verify(token: str, jwks: dict[str, Any], now: float) -> tuple[bool, dict[str, object]]:
    keys = {}
    for jwk in jwks.get("keys", []):
        try:
            keys[str(jwk["kid"])] = public_key_from_jwk(jwk)
        except (KeyError, ValueError, TypeError):
            continue
    try:
        claims = read_code(token.strip(), keys, now, leeway=SKEW_SECONDS)
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
        "--at", type=float, default=None, help="as of this Unix time (default: this clock's)"
    )
    args = parser.parse_args(argv)
    at = time.time() if args.at is None else args.at
    valid, verdict = verify(args.token, json.loads(args.jwks.read_text()), at)
    print(json.dumps(verdict, ensure_ascii=False))
    return 0 if valid else 1


if __name__ == "__main__":
    sys.exit(main())
