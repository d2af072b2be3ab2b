"""Certificate figures, one JSON object on stdout.

In process: verifying a presentation offline (wallet signature, issuer seal, two disclosed
digests) and the size of a status list for 1,000,000 certificates. Through the gateway of
the suite started by ``make up`` (GATEWAY_URL), with wrk at concurrency 32: verifying one
presentation again and again (each verification also records a disclosure), and issuing
business licences to a street's new enterprises in turn (each an identity RPC, a
status-list place and an insert); each with database round trips and CPU per operation by
process, and the ground's own figures (bench/ground.py) with the ratio.

    make up && .venv/bin/python bench/certs.py
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import jwt

from bench import ground, processes
from services.certs import statuslist
from services.certs.presentations import check_token
from services.certs.signing import new_salts, sealed_part, sign
from services.common.crypto import generate_signing_key, public_jwk
from services.identity.idnumbers import credit_check_character

GATEWAY = os.environ.get("GATEWAY_URL", "http://127.0.0.1:8000")
ADMIN = (
    os.environ.get("FIRST_ADMIN_USER", "admin"),
    os.environ.get("FIRST_ADMIN_PASSWORD", "Admin-demo-2026"),
)
DEMO_PASSWORD = "Demo-pass-2026"  # noqa: S105 - the demo city's accounts on a local suite
BENCH = Path(__file__).resolve().parent
CONCURRENCY, SECONDS = 32, 15
ENTERPRISES, STREET = 300, "CN-LN-SY/HP/NH"  # the enterprises licences are issued to


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def offline_per_s(seconds: float = 3.0) -> float:
    issuer, wallet = generate_signing_key(), generate_signing_key()
    issuer_kid, wallet_kid = (
        public_jwk(issuer.public_key())["kid"],
        public_jwk(wallet.public_key())["kid"],
    )
    fields = {"holder_name": "压测", "category": "肢体", "grade": "二级"}
    certificate = {
        "number": "B-1",
        "type": "disability_certificate",
        "issuer": "iss_b",
        "subject": "p_x",
        "fields": fields,
        "salts": new_salts(fields),
        "version": 1,
        "valid_from": "2026-01-01",
        "valid_until": "2036-01-01",
        "status_index": 1,
        "supersedes": None,
    }
    now = int(time.time())
    item = {
        "sealed": sealed_part(certificate),
        "signature": sign(certificate, issuer),
        "kid": issuer_kid,
        "disclosures": [[certificate["salts"][n], n, fields[n]] for n in ("category", "grade")],
    }
    token = jwt.encode(
        {"jti": "j", "iat": now, "exp": now + 3600, "items": [item]},
        wallet,
        algorithm="EdDSA",
        headers={"kid": wallet_kid},
    )
    wallet_keys, issuer_keys = {wallet_kid: wallet.public_key()}, {issuer_kid: issuer.public_key()}
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        check_token(token, wallet_keys, issuer_keys, time.time(), None)
        count += 1
    return count / (time.perf_counter() - started)


def status_list_bytes(entries: int = 1_000_000, revoked_share: float = 0.01) -> int:
    rng = random.Random(2026)
    positions = rng.sample(range(entries), int(entries * revoked_share))
    return len(statuslist.encode(positions, entries))


def wrk(path: str, bearer: str, body: str, subjects: Sequence[str] = ()) -> dict[str, Any]:
    done = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{CONCURRENCY}",
            f"-d{SECONDS}s",
            "--timeout",
            "10s",
            "-s",
            str(BENCH / "post.lua"),
            GATEWAY,
        ],
        env={
            **os.environ,
            "PATH_TO": path,
            "BEARER": bearer,
            "BODY": body,
            "SUBJECTS": ",".join(subjects),
        },
        capture_output=True,
        text=True,
        timeout=SECONDS + 60,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stderr.strip().splitlines()[-1])
    return result


def register_enterprises(client: httpx.Client, bearer: str, count: int) -> list[str]:
    """``count`` new enterprises on one street (a run's own credit codes), their ids."""
    headers = {"Authorization": f"Bearer {bearer}"}
    base = random.randrange(10**6) * 10
    ids = []
    for n in range(count):
        first17 = f"91210102MC{(base + n) % 10**7:07d}"
        body = {
            "name": f"压测商贸{n}号有限公司",
            "credit_code": first17 + credit_check_character(first17),
            "org_path": STREET,
        }
        registered = client.post("/v1/organisations", headers=headers, json=body)
        if registered.status_code == 409:  # a code an earlier run took
            continue
        registered.raise_for_status()
        ids.append(str(registered.json()["id"]))
    return ids


def login(client: httpx.Client, username: str, password: str = DEMO_PASSWORD) -> str:
    response = client.post(
        "/v1/auth/token",
        data={"grant_type": "password", "username": username, "password": password},
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


def online() -> dict[str, Any]:
    if shutil.which("wrk") is None:
        raise SystemExit("bench/certs.py drives the gateway with wrk: apt-get install wrk")
    with httpx.Client(base_url=GATEWAY, timeout=30) as client:
        staff = login(client, "staff.cl")
        holder_token = login(client, "citizen.wang")
        holder = client.get("/v1/me", headers={"Authorization": f"Bearer {holder_token}"}).json()
        issued = client.post(
            "/v1/certificates",
            headers={"Authorization": f"Bearer {staff}"},
            json={
                "issuer": "iss_hpcl",
                "type": "disability_certificate",
                "subject": holder["subject_id"],
                "fields": {"category": "肢体", "grade": "二级"},
                "request_id": "bench-show",
            },
        )
        issued.raise_for_status()
        shown = client.post(
            "/v1/presentations",
            headers={"Authorization": f"Bearer {holder_token}"},
            json={
                "certificate_ids": [issued.json()["id"]],
                "fields": ["category", "grade"],
                "ttl_seconds": 600,
            },
        )
        shown.raise_for_status()
        verifier = login(client, "verifier.hotel")
        registrar = login(client, "staff.sj")
        enterprises = register_enterprises(client, login(client, *ADMIN), ENTERPRISES)
    before = processes.snapshot(GATEWAY)
    verified = wrk(
        "/v1/presentations/verify",
        verifier,
        json.dumps({"token": shown.json()["token"], "purpose": "bench"}),
    )
    after = processes.snapshot(GATEWAY)
    log(f"verify: {verified}")
    # Business licences to a street's new enterprises in turn, a few each (a type held many
    # times, so that every request is a new certificate; a disability certificate is held
    # once). To one enterprise, as this bench did before, every event of the run falls on
    # one entry of policy's (its certificates of that type), which no district sees.
    body = json.dumps(
        {
            "issuer": "iss_hpsj",
            "type": "business_licence",
            "subject": "{s}",
            "request_id": "bench-{n}",
            "fields": {"legal_representative": "压测", "business_scope": "零售"},
        }
    )
    issuing = wrk("/v1/certificates", registrar, body, subjects=enterprises)
    issued_after = processes.snapshot(GATEWAY)
    log(f"issue: {issuing}")
    verified_ok = verified["requests"] - verified["non_2xx"]
    issued_ok = issuing["requests"] - issuing["non_2xx"]
    return {
        "presentation_verify_online_per_s": round(verified_ok / verified["seconds"], 1),
        "presentation_verify_online_p50_ms": round(verified["p50_ms"], 2),
        "presentation_verify_online_p99_ms": round(verified["p99_ms"], 2),
        "per_verification_by_process": processes.per_operation(before, after, verified_ok),
        "issue_per_s": round(issued_ok / issuing["seconds"], 1),
        "issue_p50_ms": round(issuing["p50_ms"], 2),
        "issue_p99_ms": round(issuing["p99_ms"], 2),
        "per_issue_by_process": processes.per_operation(after, issued_after, issued_ok),
        "online_errors": verified["non_2xx"] + issuing["non_2xx"],
        "online_concurrency": CONCURRENCY,
    }


def main() -> None:
    figures: dict[str, Any] = {
        "machine": f"{os.cpu_count()} cores",
        "presentation_verify_offline_per_s": round(offline_per_s()),
        "status_list_bytes_1m": status_list_bytes(),
        "status_list_revoked_share": 0.01,
    }
    # The ground first, on a quiet suite: after the issues, policy still learns from their
    # events for a while.
    floor = ground.figures()
    figures["ground"] = floor
    figures.update(online())
    inserts = floor["single_inserts_per_s_16_threads"]
    figures["issue_to_single_inserts_ratio"] = ground.ratio(figures["issue_per_s"], inserts)
    figures["verify_to_single_inserts_ratio"] = ground.ratio(
        figures["presentation_verify_online_per_s"], inserts
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
