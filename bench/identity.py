"""Identity figures, one JSON object on stdout.

Offline: verifying a code with the published JWKS (our reader: canonical form, header, kid,
signature, expiry) against a bare Ed25519 signature check, same machine, same run.
Online: scans through the gateway of the suite started by ``make up`` (GATEWAY_URL), at
concurrency 32 for 20 s, driven by wrk (a Python client would itself eat most of the two
cores). Codes are single use and live 60 s, so wrk mints codes for 18 s (bench/mint.lua) and
then spends each exactly once (bench/scan.lua); a thread whose codes run out stops early.

    make up && .venv/bin/python bench/identity.py
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench import ground, processes
from services.common.crypto import generate_signing_key, public_jwk
from services.gateway.qr import qr_version
from services.identity.codetoken import read_code, sign_code
from services.identity.idnumbers import id_check_character

GATEWAY = os.environ.get("GATEWAY_URL", "http://127.0.0.1:8000")
ADMIN = (
    os.environ.get("FIRST_ADMIN_USER", "admin"),
    os.environ.get("FIRST_ADMIN_PASSWORD", "Admin-demo-2026"),
)
CONCURRENCY, DURATION, MINT_SECONDS = 32, 20.0, 18.0
BENCH = Path(__file__).resolve().parent
PASSWORD = "Bench-pass-2026"  # noqa: S105 - bench accounts on a local suite


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def per_second(work: Any, seconds: float = 3.0) -> float:
    count, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        for _ in range(200):
            work()
        count += 200
    return count / elapsed


def offline_figures() -> dict[str, Any]:
    key = generate_signing_key()
    kid = public_jwk(key.public_key())["kid"]
    token, _ = sign_code("p_0123456789abcdef", kid, key, int(time.time()), 3600)
    keys = {kid: key.public_key()}
    public = key.public_key()
    signing_input, _ = token.rsplit(".", 1)
    raw_signature = key.sign(signing_input.encode())
    offline = per_second(lambda: read_code(token, keys, time.time()))
    raw = per_second(lambda: public.verify(raw_signature, signing_input.encode()))
    return {
        "offline_verify_per_s": round(offline),
        "raw_ed25519_verify_per_s": round(raw),
        "offline_ratio": round(offline / raw, 3),
        "token_bytes": len(token.encode()),
        "qr_version": qr_version(token),
        "qr_error_correction": "M",
    }


def bench_id(index: int) -> str:
    first17 = f"210102199001{index % 28 + 1:02d}{500 + index:03d}"
    return first17 + id_check_character(first17)


def token_for(client: httpx.Client, username: str, password: str) -> str:
    response = client.post(
        "/v1/auth/token",
        data={"grant_type": "password", "username": username, "password": password},
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


def prepare(client: httpx.Client, people: int = 64) -> tuple[list[str], str]:
    """Bench citizens and a bench terminal (created once; a rerun finds them)."""
    admin = {"Authorization": f"Bearer {token_for(client, *ADMIN)}"}
    units = client.get("/v1/org-units", headers=admin).json()
    street = next(u["path"] for u in units if u["kind"] == "street")
    client.post(
        "/v1/accounts",
        headers=admin,
        json={
            "username": "bench.terminal",
            "password": PASSWORD,
            "roles": ["verifier"],
            "org_path": street,
            "scenes": ["metro"],
            "display_name": "压测闸机",
        },
    )
    for index in range(people):
        client.post(
            "/v1/persons",
            headers=admin,
            json={
                "name": f"压测居民{index}",
                "id_number": bench_id(index),
                "org_path": street,
                "account": {"username": f"bench.citizen{index}", "password": PASSWORD},
            },
        )
    citizens = [token_for(client, f"bench.citizen{i}", PASSWORD) for i in range(people)]
    return citizens, token_for(client, "bench.terminal", PASSWORD)


def wrk(script: str, seconds: float, env: dict[str, str]) -> str:
    """Run wrk (2 threads, 32 connections) with one of our Lua scripts; returns its stderr."""
    done = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{CONCURRENCY}",
            f"-d{int(seconds)}s",
            "--timeout",
            "10s",
            "-s",
            str(BENCH / script),
            GATEWAY,
        ],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    )
    return done.stderr


def online_figures() -> dict[str, Any]:
    if shutil.which("wrk") is None:
        raise SystemExit("bench/identity.py drives the gateway with wrk: apt-get install wrk")
    with httpx.Client(base_url=GATEWAY, timeout=30) as client:
        citizens, terminal = prepare(client)
    with tempfile.TemporaryDirectory() as tokens_dir:
        env = {
            "TOKENS_DIR": tokens_dir,
            "CITIZEN_TOKENS": ",".join(citizens),
            "TERMINAL_TOKEN": terminal,
            "SCENE": "metro",
        }
        wrk("mint.lua", MINT_SECONDS, env)  # codes live 60 s: mint just before spending them
        minted = sum(1 for p in Path(tokens_dir).glob("*.txt") for _ in p.open())
        log(f"minted {minted} codes in {MINT_SECONDS:.0f} s; scanning for up to {DURATION:.0f} s")
        before = processes.snapshot(GATEWAY)
        result = json.loads(wrk("scan.lua", DURATION, env).strip().splitlines()[-1])
        after = processes.snapshot(GATEWAY)
    ok = result["requests"] - result["non_2xx"]
    return {
        "online_scans_per_s": round(ok / result["seconds"], 1),
        "online_p50_ms": round(result["p50_ms"], 2),
        "online_p99_ms": round(result["p99_ms"], 2),
        "online_scans": ok,
        "online_seconds": round(result["seconds"], 2),
        "online_non_2xx": result["non_2xx"],
        "online_concurrency": CONCURRENCY,
        "codes_minted": minted,
        "load_generator": "wrk 2 threads",
        "per_scan_by_process": processes.per_operation(before, after, result["requests"]),
    }


def main() -> None:
    figures: dict[str, Any] = {"machine": f"{os.cpu_count()} cores", **offline_figures()}
    log(f"offline {figures['offline_verify_per_s']}/s, raw {figures['raw_ed25519_verify_per_s']}/s")
    # The ground first, on a quiet suite: raw single inserts from as many threads as the
    # scans' concurrency (each scan records one), bulk inserts, _id reads.
    floor = ground.database_figures(threads=CONCURRENCY)
    figures["ground"] = floor
    figures.update(online_figures())
    inserts = floor[f"single_inserts_per_s_{CONCURRENCY}_threads"]
    figures["scans_to_single_inserts_ratio"] = ground.ratio(figures["online_scans_per_s"], inserts)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
