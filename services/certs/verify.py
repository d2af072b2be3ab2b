"""Offline verification of a certificate presentation, as a terminal with no network does.

    python -m services.certs.verify TOKEN --keys cert-keys.json --status list.json [--status …]

``cert-keys.json`` is ``GET /.well-known/cert-keys.json`` and each status file an issuer's
``GET /v1/issuers/{id}/status-list``, fetched while online. The answer is only as fresh as
those lists: a certificate revoked after a list was published still passes against that list
(its ``published_at`` is printed, so the terminal knows how stale it is). Exit code 0 when
every shown certificate is valid, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from services.certs import statuslist
from services.certs.presentations import PresentationRefused, check_token, status_checked
from services.common.codec import city_day
from services.common.crypto import public_key_from_jwk


def verify(
    token: str, keys: dict[str, Any], lists: list[dict[str, Any]], now: float
) -> tuple[bool, dict[str, Any]]:
    issuer_keys = {k["kid"]: public_key_from_jwk(k) for k in keys.get("keys", [])}
    wallet_keys = {k["kid"]: public_key_from_jwk(k) for k in keys.get("wallet_keys", [])}
    by_issuer = {}
    for listed in lists:
        key = issuer_keys.get(listed.get("kid", ""))
        if key is not None and statuslist.verify_list(listed, key):
            by_issuer[listed["issuer"]] = listed
    try:
        shown = check_token(token.strip(), wallet_keys, issuer_keys, now, None)
    except PresentationRefused as refused:
        return False, {"valid": False, "reason": refused.reason}
    results, valid = [], True
    for item in shown:
        sealed = item["sealed"]
        published = by_issuer.get(sealed["issuer"])
        status = status_checked(sealed, by_issuer)
        today = city_day(datetime.fromtimestamp(now, UTC)).isoformat()  # a Beijing date
        if status == "valid" and sealed["valid_until"] < today:
            status = "expired"
        elif status == "valid" and (sealed.get("valid_from") or today) > today:
            status = "not_yet_valid"
        valid = valid and status == "valid"
        results.append(
            {
                "number": sealed["number"],
                "issuer": sealed["issuer"],
                "status": status,
                "fields": item["revealed"],
                "status_list_published_at": published["published_at"] if published else None,
            }
        )
    return valid, {"valid": valid, "certificates": results}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Verify a certificate presentation offline.")
    parser.add_argument("token")
    parser.add_argument("--keys", required=True, type=Path, help="cached cert-keys.json")
    parser.add_argument(
        "--status",
        action="append",
        default=[],
        type=Path,
        help="a cached status list (repeat for several issuers)",
    )
    args = parser.parse_args(argv)
    keys = json.loads(args.keys.read_text())
    lists = [json.loads(p.read_text()) for p in args.status]
    valid, verdict = verify(args.token, keys, lists, time.time())
    print(json.dumps(verdict, ensure_ascii=False))
    return 0 if valid else 1


if __name__ == "__main__":
    sys.exit(main())
