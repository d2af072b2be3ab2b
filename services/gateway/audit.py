"""The audit of API calls: one entry per request, kept by the gateway's store.

Requests never wait for the database: entries go into a bounded queue that a background task
writes in batches. If the database is down for long enough to fill the queue, further entries
are counted as dropped (and the count is logged) rather than stalling the API.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from services.gateway.store import GatewayStore, StoreError

log = logging.getLogger(__name__)


class AuditLog:
    def __init__(self, store: GatewayStore, batch: int = 200, capacity: int = 20000):
        self.store = store
        self.batch = batch
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=capacity)
        self.dropped = 0
        self._task: asyncio.Task[None] | None = None

    def record(self, entry: dict[str, Any]) -> None:
        try:
            self.queue.put_nowait(entry)
        except asyncio.QueueFull:
            self.dropped += 1

    async def start(self) -> None:
        self._task = asyncio.create_task(self._writer(), name="audit-writer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._flush(self._drain())

    def _drain(self) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = []
        while not self.queue.empty() and len(entries) < self.batch:
            entries.append(self.queue.get_nowait())
        return entries

    async def _flush(self, entries: list[dict[str, Any]]) -> None:
        if not entries:
            return
        try:
            await self.store.append_audit(entries)
        except StoreError:
            self.dropped += len(entries)
            log.warning("audit write failed; %d entries dropped so far", self.dropped)

    async def _writer(self) -> None:
        while True:
            first = await self.queue.get()
            await self._flush([first, *self._drain()])
