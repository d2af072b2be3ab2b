"""What certs derives once per process: the key that seals issuers' signing keys, and the
seeded catalogue."""

from __future__ import annotations

from typing import Any

from nameko.extensions import DependencyProvider

from services.certs import catalogue
from services.common.config import load_settings
from services.common.crypto import derive_key
from services.common.mongo import client_for


class IssuerKeys(DependencyProvider):  # type: ignore[misc]
    def setup(self) -> None:
        settings = load_settings(self.container.config)
        self.wrap_key = derive_key(settings.SECRET_KEY.get_secret_value(), "certs-issuer-keys")

    def start(self) -> None:
        settings = load_settings(self.container.config)
        client = client_for(settings.MONGO_URL)
        try:
            catalogue.seed(client[settings.database_name("certs")])
        finally:
            client.close()

    def get_dependency(self, worker_ctx: Any) -> bytes:
        return self.wrap_key
