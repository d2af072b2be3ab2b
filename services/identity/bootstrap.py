"""The first administrator, from ``FIRST_ADMIN_USER`` / ``FIRST_ADMIN_PASSWORD``.

Created once when the service starts; an existing account is never overwritten, so changing
the variables later does not reset a password someone has since changed.
"""

from __future__ import annotations

import logging
from typing import Any

from nameko.extensions import DependencyProvider

from services.common.codec import utcnow
from services.common.config import load_settings
from services.common.mongo import client_for
from services.identity.accounts import build_account, ensure_account, validate_password

log = logging.getLogger(__name__)


class FirstAdmin(DependencyProvider):  # type: ignore[misc]
    def start(self) -> None:
        config = self.container.config
        username = config.get("FIRST_ADMIN_USER")
        password = config.get("FIRST_ADMIN_PASSWORD")
        if not username or not password:
            log.warning("FIRST_ADMIN_USER / FIRST_ADMIN_PASSWORD unset: no first admin created")
            return
        validate_password(password)
        settings = load_settings(config)
        client = client_for(settings.MONGO_URL)
        try:
            account = build_account(
                username, password, ["admin"], None, "系统管理员", None, [], utcnow(), None
            )
            if ensure_account(client[settings.database_name("identity")], account):
                log.info("first admin account created")
        finally:
            client.close()

    def get_dependency(self, worker_ctx: Any) -> None:
        return None
