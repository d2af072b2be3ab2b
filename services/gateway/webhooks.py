"""Webhooks out to partner systems (the hotline, the national platform): every transition
of a task they follow, signed, retried with backoff, in order per task.

The tasks service queues them with the transition (its outbox); this loop asks for the
oldest undelivered one of each task, POSTs it, and tells the service once the partner
answered 2xx. Delivery is at least once: a partner recognises a repeat by ``X-Webhook-Id``.

Signature: ``X-Webhook-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`` with the
webhook secret the partner received when it was registered.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx

from services.common.codec import utcnow
from services.common.crypto import derive_key, timestamped_signature, unseal
from services.gateway.lease import Lease
from services.gateway.rpc import RpcClient
from services.gateway.store import GatewayStore

log = logging.getLogger(__name__)
MAX_BACKOFF_S = 300.0
ROUND_LEASE = timedelta(seconds=120)  # longer than a round of posts with their timeouts


@dataclass
class Deliverer:
    store: GatewayStore
    rpc: RpcClient
    secret_key: str
    interval: float = 1.0
    timeout: float = 5.0
    backoff: dict[tuple[str, str], tuple[float, float]] = field(default_factory=dict)
    holder: str = field(default_factory=lambda: secrets.token_hex(8))

    def __post_init__(self) -> None:
        self.lease = Lease(self.store, "webhook-round", self.holder, ROUND_LEASE)

    async def run(self) -> None:
        async with httpx.AsyncClient(timeout=self.timeout) as client:
            while True:
                try:
                    await self.deliver_once(client)
                except Exception:  # the loop must outlive a bad round
                    log.warning("webhook round failed", exc_info=True)
                await asyncio.sleep(self.interval)

    async def deliver_once(self, client: httpx.AsyncClient) -> int:
        """One round, by one gateway process at a time (several workers or replicas would
        otherwise post the same webhook twice, or out of order)."""
        if not self.rpc.connected or not await self.lease.take(utcnow()):
            return 0
        try:
            return await self._round(client)
        finally:
            await self.lease.release(utcnow())

    async def _round(self, client: httpx.AsyncClient) -> int:
        headers = {"call_id_stack": ["gateway.webhooks"]}
        pending = await self.rpc.call("tasks", "pending_webhooks", {"limit": 200}, headers=headers)
        delivered: list[str] = []
        now = time.monotonic()
        partners = await self.store.partner_clients_by_ids(item["partner"] for item in pending)
        seal_key = derive_key(self.secret_key, "webhook-secrets")
        for item in pending:
            key = (item["partner"], item["payload"]["task_id"])
            not_before, _delay = self.backoff.get(key, (0.0, 0.0))
            if now < not_before:
                continue
            webhook = (partners.get(item["partner"]) or {}).get("webhook")
            if not webhook:
                delivered.append(item["id"])  # nobody to tell: nothing to keep
                continue
            secret = unseal(seal_key, webhook["secret"], f"webhook:{item['partner']}")
            if await self._post(client, item, webhook["url"], secret):
                delivered.append(item["id"])
                self.backoff.pop(key, None)
                await self.store.log_webhook_delivery(
                    {"event": item["id"], "partner": item["partner"], "at": utcnow(), "ok": True}
                )
            else:
                delay = min(MAX_BACKOFF_S, max(1.0, _delay * 2))
                self.backoff[key] = (now + delay, delay)
                if delay >= MAX_BACKOFF_S:
                    log.warning("webhook to %s keeps failing", item["partner"])
        if delivered:
            await self.rpc.call(
                "tasks", "webhooks_delivered", {"event_ids": delivered}, headers=headers
            )
        return len(delivered)

    async def _post(
        self, client: httpx.AsyncClient, item: dict[str, Any], url: str, secret: str
    ) -> bool:
        body = json.dumps(item["payload"], ensure_ascii=False, separators=(",", ":")).encode()
        timestamp = int(time.time())
        try:
            response = await client.post(
                url,
                content=body,
                headers={
                    "Content-Type": "application/json",
                    "X-Webhook-Id": item["id"],
                    "X-Webhook-Event": "task." + item["payload"]["transition"],
                    "X-Webhook-Signature": timestamped_signature(secret, timestamp, body),
                },
            )
        except httpx.HTTPError:
            return False
        return 200 <= response.status_code < 300
