"""The gateway's settings, from the environment (the same names the services use)."""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.config import CommonSettings

SERVICES = ("identity", "certs", "policy", "tasks")


class Settings(CommonSettings, BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    GATEWAY_HOST: str = "127.0.0.1"
    GATEWAY_PORT: int = 8000
    GATEWAY_WORKERS: int = 1
    PUBLIC_URL: str = ""
    RPC_TIMEOUT: float = 10.0
    HEALTH_TIMEOUT: float = 2.0
    ACCESS_TOKEN_TTL: int = 900
    TOKEN_ISSUER: str = "one-code-city"  # noqa: S105 - a name, not a secret
    TOKEN_AUDIENCE: str = "one-code-city"  # noqa: S105 - a name, not a secret
    AUDIT_BATCH: int = 200
    WEBHOOK_POLL_SECONDS: float = 1.0
    # Requests per client address and minute to the public, unauthenticated checks, for the
    # whole gateway (every process and replica counts against the same allowance).
    PUBLIC_RATE_PER_MINUTE: int = 60
    # Code and presentation checks, per verifier account or partner client: a busy metro
    # gate scans about one a second; a client far past this is a script, not a queue.
    VERIFY_RATE_PER_MINUTE: int = 6000
    # Token requests per client address and minute (five wrong passwords also lock an account).
    LOGIN_RATE_PER_MINUTE: int = 120
    # Proxies in front of the gateway whose X-Forwarded-For is believed (addresses or
    # networks, comma-separated); nobody else's is.
    TRUSTED_PROXIES: str = ""
    # Requests one gateway process serves at once; past it, 503 with Retry-After at once
    # (0: no limit). The suite answers about 80 requests a second on two cores, so 64 in
    # flight is under a second of waiting: a gate then falls back to checking offline.
    MAX_IN_FLIGHT: int = 64
    MAX_BODY_BYTES: int = 1_048_576
    # The whole request body must arrive within this many seconds (408 otherwise), so a
    # client that trickles its body cannot hold one of the MAX_IN_FLIGHT places.
    BODY_TIMEOUT_SECONDS: float = 10.0
    # A token Prometheus sends to read /metrics (empty: /metrics only from this host).
    METRICS_TOKEN: str = ""
    # A task with its attachments: five files of 512 KiB, base64 in JSON.
    MAX_ATTACHMENT_BODY_BYTES: int = 4 * 1_048_576
    # Where the pages reach the API (default: this process's own port, over loopback).
    PAGES_API_URL: str = ""
    # The gateway's key for signing the calls it makes (the user it vouches for, and itself),
    # and the keys it trusts; unset outside production: derived from SECRET_KEY.
    BUS_SIGNING_KEY: str = ""
    BUS_TRUSTED_KEYS: str = ""


@lru_cache
def get_settings() -> Settings:
    return Settings()
