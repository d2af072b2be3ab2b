"""``python -m services.gateway``: serve the API with uvicorn on ``GATEWAY_PORT``, in
``GATEWAY_WORKERS`` processes sharing the port (the kernel spreads connections)."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI

from services.common.logs import configure
from services.gateway.app import create_app
from services.gateway.settings import get_settings


def worker_app() -> FastAPI:
    """One worker's app (each worker is a process of its own: it configures its logs)."""
    configure("gateway")
    return create_app(get_settings())


def main() -> None:
    settings = get_settings()
    configure("gateway")
    many = settings.GATEWAY_WORKERS > 1
    uvicorn.run(
        "services.gateway.__main__:worker_app" if many else create_app(settings),
        factory=many,
        workers=settings.GATEWAY_WORKERS if many else None,
        host=settings.GATEWAY_HOST,
        port=settings.GATEWAY_PORT,
        log_config=None,
        access_log=False,
        # The peer's address is the connection's; X-Forwarded-For is believed only from
        # TRUSTED_PROXIES, by services.gateway.ratelimit.client_address.
        proxy_headers=False,
    )


if __name__ == "__main__":
    main()
