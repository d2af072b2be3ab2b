"""``python -m services.gateway``: serve the API with uvicorn on ``GATEWAY_PORT``."""

from __future__ import annotations

import uvicorn

from services.common.logs import configure
from services.gateway.app import create_app
from services.gateway.settings import get_settings


def main() -> None:
    settings = get_settings()
    configure("gateway")
    uvicorn.run(
        create_app(settings),
        host=settings.GATEWAY_HOST,
        port=settings.GATEWAY_PORT,
        log_config=None,
        access_log=False,
        proxy_headers=True,
    )


if __name__ == "__main__":
    main()
