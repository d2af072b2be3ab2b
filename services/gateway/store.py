"""The gateway's one door to its database: the only module that names its collections.

The gateway owns nothing of the domain, only what serving the API needs: sessions, partner
clients, the keys that sign access tokens, idempotency keys, rate-limit slots, the webhook
round's lease, the audit of API calls and the webhook log. Methods are named for what the
gateway does with them. The FerretDB rules live here: a write that must win once is an insert
into a unique ``_id`` (a rate-limit slot, an idempotency key, a lease number, a client id),
hot reads go by ``_id``, and expired things are swept by a query, never by a TTL index.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from motor.motor_asyncio import AsyncIOMotorCollection, AsyncIOMotorDatabase
from pymongo.errors import ConnectionFailure, DuplicateKeyError, PyMongoError

log = logging.getLogger(__name__)

Document = dict[str, Any]
# What a failed database call raises: callers that must outlive the database (the audit
# writer, the sweeps, storing an idempotent answer) catch this, never a driver's class.
StoreError = PyMongoError
# The part of it that means the database could not be reached (answered with a 503).
StoreUnreachable = ConnectionFailure

SESSIONS = "sessions"
PARTNER_CLIENTS = "partner_clients"
SIGNING_KEYS = "signing_keys"
IDEMPOTENCY_KEYS = "idempotency_keys"
RATE_SLOTS = "rate_slots"
LEASES = "leases"
LEASE_NUMBERS = "lease_numbers"
API_CALLS = "api_calls"
WEBHOOK_LOG = "webhook_log"


@dataclass(frozen=True)
class Index:
    """One index the gateway needs (named as the driver names it by default)."""

    collection: str
    keys: Sequence[tuple[str, int]]

    @property
    def name(self) -> str:
        return "_".join(f"{key}_{direction}" for key, direction in self.keys)


INDEXES = (
    Index(API_CALLS, [("time", -1)]),
    Index(API_CALLS, [("actor", 1), ("time", -1)]),
    Index(IDEMPOTENCY_KEYS, [("created_at", 1)]),
    Index(SESSIONS, [("account", 1)]),
    Index(RATE_SLOTS, [("expires_at", 1)]),
)
LEASE_NUMBERS_KEPT = 100  # older lease numbers are deleted as new ones are taken


async def _inserted(collection: AsyncIOMotorCollection[Document], document: Document) -> bool:
    """Insert ``document``; False when its unique key is taken (someone else won)."""
    try:
        await collection.insert_one(document)
    except DuplicateKeyError:
        return False
    return True


def _lease_number_id(name: str, number: int) -> str:
    return f"{name}:{number:012d}"


class GatewayStore:
    def __init__(self, database: AsyncIOMotorDatabase[Document]) -> None:
        self.database = database

    def _collection(self, name: str) -> AsyncIOMotorCollection[Document]:
        return self.database[name]

    # the database itself

    async def ensure_indexes(self) -> None:
        for index in INDEXES:
            await self._collection(index.collection).create_index(list(index.keys), name=index.name)

    async def prepare(self, deadline: float) -> None:
        """Create the indexes, retrying while the database comes up (until ``deadline``, on
        the event loop's clock)."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                await self.ensure_indexes()
                return
            except PyMongoError:
                if loop.time() > deadline:
                    raise
                log.warning("gateway database not ready, retrying")
                await asyncio.sleep(1)

    async def ping(self) -> None:
        """Raise (a :data:`StoreError`) when the database does not answer."""
        await self.database.command("ping")

    # sessions

    async def open_session(self, session: Document) -> None:
        await self._collection(SESSIONS).insert_one(session)

    async def load_session(self, sid: str) -> Document | None:
        found: Document | None = await self._collection(SESSIONS).find_one({"_id": sid})
        return found

    async def end_session(self, sid: str, now: datetime, by: str | None) -> None:
        """End a live session (one already ended keeps its first end)."""
        await self._collection(SESSIONS).update_one(
            {"_id": sid, "ended_at": None}, {"$set": {"ended_at": now, "ended_by": by}}
        )

    async def live_session_ids(self, account: str) -> list[str]:
        """The ids of the account's sessions that have not ended (expired ones included)."""
        cursor = self._collection(SESSIONS).find({"account": account, "ended_at": None}, {"_id": 1})
        return [found["_id"] async for found in cursor]

    async def live_sessions(self, account: str) -> list[Document]:
        """The account's sessions that have not ended, the newest first."""
        cursor = self._collection(SESSIONS).find({"account": account, "ended_at": None})
        return [found async for found in cursor.sort("created_at", -1)]

    async def forget_sessions_expired_before(self, when: datetime) -> None:
        await self._collection(SESSIONS).delete_many({"expires_at": {"$lt": when}})

    # partner clients

    async def insert_partner_client(self, client: Document) -> bool:
        """False when the client id is taken."""
        return await _inserted(self._collection(PARTNER_CLIENTS), client)

    async def load_partner_client(self, client_id: str) -> Document | None:
        found: Document | None = await self._collection(PARTNER_CLIENTS).find_one(
            {"_id": client_id}
        )
        return found

    async def partner_clients(self) -> list[Document]:
        """Every partner client, by id."""
        return [c async for c in self._collection(PARTNER_CLIENTS).find({}).sort("_id", 1)]

    async def partner_clients_by_ids(self, client_ids: Iterable[str]) -> dict[str, Document]:
        wanted = sorted(set(client_ids))
        if not wanted:
            return {}
        query = {"_id": {"$in": wanted}}
        return {c["_id"]: c async for c in self._collection(PARTNER_CLIENTS).find(query)}

    async def set_partner_client_status(self, client_id: str, status: str) -> None:
        await self._collection(PARTNER_CLIENTS).update_one(
            {"_id": client_id}, {"$set": {"status": status}}
        )

    # the keys that sign access tokens

    async def load_signing_ring(self, ring_id: str) -> Document | None:
        found: Document | None = await self._collection(SIGNING_KEYS).find_one({"_id": ring_id})
        return found

    async def create_signing_ring(self, ring_id: str, ring: Document) -> None:
        """Put the ring in place unless one is there (another replica's first one stays)."""
        with contextlib.suppress(DuplicateKeyError):  # another replica created it first
            await self._collection(SIGNING_KEYS).update_one(
                {"_id": ring_id}, {"$setOnInsert": ring}, upsert=True
            )

    # idempotency keys

    async def claim_idempotency_key(self, record: Document) -> bool:
        """False when the key (the record's ``_id``) is claimed already."""
        return await _inserted(self._collection(IDEMPOTENCY_KEYS), record)

    async def load_idempotency_key(self, record_id: str) -> Document | None:
        found: Document | None = await self._collection(IDEMPOTENCY_KEYS).find_one(
            {"_id": record_id}
        )
        return found

    async def idempotency_key_state(self, record_id: str) -> Document | None:
        """Only the key's ``state`` and ``until`` (the rest may hold a whole answer)."""
        found: Document | None = await self._collection(IDEMPOTENCY_KEYS).find_one(
            {"_id": record_id}, {"state": 1, "until": 1}
        )
        return found

    async def settle_idempotency_key(self, record_id: str, outcome: Document) -> None:
        """Record what the first request came to (its ``state`` and, when done, its answer)."""
        await self._collection(IDEMPOTENCY_KEYS).update_one({"_id": record_id}, {"$set": outcome})

    async def release_idempotency_key(self, record_id: str) -> None:
        await self._collection(IDEMPOTENCY_KEYS).delete_one({"_id": record_id})

    async def release_unknown_idempotency_key(self, record_id: str) -> None:
        """Release the key only while its outcome is still unknown."""
        await self._collection(IDEMPOTENCY_KEYS).delete_one({"_id": record_id, "state": "unknown"})

    async def forget_idempotency_keys_before(self, when: datetime) -> None:
        await self._collection(IDEMPOTENCY_KEYS).delete_many({"created_at": {"$lt": when}})

    # rate-limit slots

    async def reserve_slot(self, slot_id: str, expires_at: datetime) -> bool:
        """False when another process took the slot first."""
        slot = {"_id": slot_id, "expires_at": expires_at}
        return await _inserted(self._collection(RATE_SLOTS), slot)

    async def slot_taken(self, slot_id: str) -> bool:
        found = await self._collection(RATE_SLOTS).find_one({"_id": slot_id}, {"_id": 1})
        return found is not None

    async def forget_slots_expired_before(self, when: datetime) -> None:
        await self._collection(RATE_SLOTS).delete_many({"expires_at": {"$lt": when}})

    # leases: one holder at a time, from an insert into a unique key

    async def take_lease(self, name: str, holder: str, length: timedelta, now: datetime) -> bool:
        """True when ``holder`` holds the lease ``name`` now (taken now, or still its own).

        Each lease is numbered. Whoever finds the current one expired (or released) inserts
        the next number; exactly one process succeeds, and only it writes the pointer saying
        who holds which number until when."""
        pointer: Document = await self._collection(LEASES).find_one({"_id": name}) or {}
        until = pointer.get("until")
        if until is not None and until.replace(tzinfo=now.tzinfo) > now:
            return bool(pointer.get("holder") == holder)
        number = int(pointer.get("number", 0)) + 1
        taken = {"_id": _lease_number_id(name, number), "holder": holder, "at": now}
        if not await _inserted(self._collection(LEASE_NUMBERS), taken):
            return False  # another process took this number first
        await self._collection(LEASES).replace_one(
            {"_id": name}, {"number": number, "holder": holder, "until": now + length}, upsert=True
        )
        if number % LEASE_NUMBERS_KEPT == 0:
            old = _lease_number_id(name, number - LEASE_NUMBERS_KEPT)
            await self._collection(LEASE_NUMBERS).delete_many(
                {"_id": {"$lte": old, "$gte": f"{name}:"}}
            )
        return True

    async def release_lease(self, name: str, holder: str, now: datetime) -> None:
        """Let the next process take it at once (only the holder's own pointer is touched)."""
        await self._collection(LEASES).update_one(
            {"_id": name, "holder": holder}, {"$set": {"until": now}}
        )

    # what the gateway keeps of its own work

    async def append_audit(self, entries: list[Document]) -> None:
        """Write a batch of audit entries (each its own: one failing does not stop the rest)."""
        await self._collection(API_CALLS).insert_many(entries, ordered=False)

    async def log_webhook_delivery(self, entry: Document) -> None:
        await self._collection(WEBHOOK_LOG).insert_one(entry)
