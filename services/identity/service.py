"""The identity service: declarations only; the logic lives in one module per concept."""

from __future__ import annotations

from typing import Any

from nameko.rpc import rpc

from services.common import health
from services.common.codec import utcnow
from services.common.context import CallContext
from services.common.errors import DOMAIN_ERRORS
from services.common.mongo import MongoDatabase
from services.identity import accounts, orgunits
from services.identity.bootstrap import FirstAdmin
from services.identity.store import INDEXES


class IdentityService:
    name = "identity"

    db = MongoDatabase("identity", INDEXES)
    call = CallContext()
    first_admin = FirstAdmin()

    @rpc(expected_exceptions=DOMAIN_ERRORS)
    def health(self) -> dict[str, Any]:
        return health.check(self.name, self.db)

    @rpc(expected_exceptions=DOMAIN_ERRORS)
    def authenticate(self, username: str, password: str) -> dict[str, Any]:
        return accounts.authenticate(self.db, username, password, utcnow())

    @rpc(expected_exceptions=DOMAIN_ERRORS)
    def create_account(
        self,
        username: str,
        password: str,
        roles: list[str],
        org_path: str | None = None,
        display_name: str | None = None,
        subject_id: str | None = None,
        scenes: list[str] | None = None,
    ) -> dict[str, Any]:
        return accounts.create_account(
            self.db,
            self.call.actor,
            utcnow(),
            username,
            password,
            roles,
            org_path,
            display_name,
            subject_id,
            scenes,
        )

    @rpc(expected_exceptions=DOMAIN_ERRORS)
    def get_account(self, account_id: str) -> dict[str, Any]:
        return accounts.get_account(self.db, self.call.actor, account_id)

    @rpc(expected_exceptions=DOMAIN_ERRORS)
    def list_accounts(
        self, org_path: str | None = None, limit: int = 50, offset: int = 0
    ) -> dict[str, Any]:
        return accounts.list_accounts(self.db, self.call.actor, org_path, limit, offset)

    @rpc(expected_exceptions=DOMAIN_ERRORS)
    def create_org_unit(
        self, code: str, name: str, kind: str, parent: str | None = None
    ) -> dict[str, Any]:
        return orgunits.create_org_unit(self.db, self.call.actor, parent, code, name, kind)

    @rpc(expected_exceptions=DOMAIN_ERRORS)
    def get_org_unit(self, path: str) -> dict[str, Any]:
        return orgunits.get_org_unit(self.db, self.call.actor, path)

    @rpc(expected_exceptions=DOMAIN_ERRORS)
    def list_org_units(self, root: str | None = None) -> list[dict[str, Any]]:
        return orgunits.list_org_units(self.db, self.call.actor, root)
