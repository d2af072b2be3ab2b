"""A lease one process at a time holds (the webhook round of several gateway workers or
replicas), built from an insert into a unique key, the only guard FerretDB enforces under
concurrency (see ``services.common.claims``): ``findAndModify`` with a condition lets two
writers win there.

Each lease is numbered. Whoever finds the current one expired (or released) inserts the
next number; exactly one process succeeds, and only it writes the pointer saying who holds
which number until when. A holder that dies keeps it until it expires. The store
(:meth:`GatewayStore.take_lease`) keeps the rule; a lease is who asks for it, and for how long.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from services.gateway.store import GatewayStore


@dataclass
class Lease:
    store: GatewayStore
    name: str
    holder: str
    length: timedelta

    async def take(self, now: datetime) -> bool:
        """True when this process holds the lease now (taken now, or still its own)."""
        return await self.store.take_lease(self.name, self.holder, self.length, now)

    async def release(self, now: datetime) -> None:
        """Let the next process take it at once (only the holder's own pointer is touched)."""
        await self.store.release_lease(self.name, self.holder, now)
