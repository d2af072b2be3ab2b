"""A lease one process at a time holds (the webhook round of several gateway workers or
replicas), built from an insert into a unique key, the only guard FerretDB enforces under
concurrency (see ``services.common.claims``): ``findAndModify`` with a condition lets two
writers win there.

Each lease is numbered. Whoever finds the current one expired (or released) inserts the
next number; exactly one process succeeds, and only it writes the pointer saying who holds
which number until when. A holder that dies keeps it until it expires.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from motor.motor_asyncio import AsyncIOMotorDatabase
from pymongo.errors import DuplicateKeyError

KEPT_NUMBERS = 100  # older lease numbers are deleted as new ones are taken


@dataclass
class Lease:
    db: AsyncIOMotorDatabase[Any]
    name: str
    holder: str
    length: timedelta

    async def take(self, now: datetime) -> bool:
        """True when this process holds the lease now (taken now, or still its own)."""
        pointer = await self.db.leases.find_one({"_id": self.name}) or {}
        until = pointer.get("until")
        if until is not None and until.replace(tzinfo=now.tzinfo) > now:
            return bool(pointer.get("holder") == self.holder)
        number = int(pointer.get("number", 0)) + 1
        try:
            await self.db.lease_numbers.insert_one(
                {"_id": f"{self.name}:{number:012d}", "holder": self.holder, "at": now}
            )
        except DuplicateKeyError:
            return False  # another process took this number first
        await self.db.leases.replace_one(
            {"_id": self.name},
            {"number": number, "holder": self.holder, "until": now + self.length},
            upsert=True,
        )
        if number % KEPT_NUMBERS == 0:
            old = f"{self.name}:{number - KEPT_NUMBERS:012d}"
            await self.db.lease_numbers.delete_many({"_id": {"$lte": old, "$gte": f"{self.name}:"}})
        return True

    async def release(self, now: datetime) -> None:
        """Let the next process take it at once (only the holder's own pointer is touched)."""
        await self.db.leases.update_one(
            {"_id": self.name, "holder": self.holder}, {"$set": {"until": now}}
        )
