"""The certs service: declarations only; the logic lives in one module per concept."""

from __future__ import annotations

from typing import Any

from nameko.rpc import rpc

from services.certs.store import INDEXES
from services.common import health
from services.common.context import CallContext
from services.common.errors import DOMAIN_ERRORS
from services.common.mongo import MongoDatabase


class CertsService:
    name = "certs"

    db = MongoDatabase("certs", INDEXES)
    call = CallContext()

    @rpc(expected_exceptions=DOMAIN_ERRORS)
    def health(self) -> dict[str, Any]:
        return health.check(self.name, self.db)
