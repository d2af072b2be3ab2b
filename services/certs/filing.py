"""Every certificate filed for reads by ``_id`` (its number's versions, its subject's
numbers, the days they fall due, and each issuer's status places:
:class:`services.certs.store.CertsStore`): a start-up seed, for a database that had
certificates before they were filed. Idempotent; done once, then a claim says so."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.certs.store import CertsStore
from services.common.codec import utcnow


def seed(store: CertsStore, _config: Mapping[str, Any]) -> None:
    store.file_existing(utcnow())
    store.file_status_places(utcnow())
