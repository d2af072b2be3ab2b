"""The first administrator, from ``FIRST_ADMIN_USER`` / ``FIRST_ADMIN_PASSWORD``.

A start-up seed of identity's database: created once; an existing account is never
overwritten, so changing the variables later does not reset a password someone has since
changed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from services.common.codec import utcnow
from services.identity.accounts import build_account, validate_password
from services.identity.store import IdentityStore

log = logging.getLogger(__name__)


def seed_first_admin(store: IdentityStore, config: Mapping[str, Any]) -> None:
    username = config.get("FIRST_ADMIN_USER")
    password = config.get("FIRST_ADMIN_PASSWORD")
    if not username or not password:
        log.warning("FIRST_ADMIN_USER / FIRST_ADMIN_PASSWORD unset: no first admin created")
        return
    validate_password(password)
    account = build_account(
        username, password, ["admin"], None, "系统管理员", None, [], utcnow(), None
    )
    if store.ensure_account(account):
        log.info("first admin account created")


def file_scans(store: IdentityStore, _config: Mapping[str, Any]) -> None:
    """The scans recorded before scan days were kept, put in their days once (the history is
    read by a query until then)."""
    filed = store.file_scans(utcnow())
    if filed:
        log.info("scans filed in their subjects' days", extra={"scans": filed})
