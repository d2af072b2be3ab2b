"""The FastAPI app: shared clients are created in ``lifespan`` and handed to requests as
lifespan state (one pika connection and one motor client per process)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from motor.motor_asyncio import AsyncIOMotorClient

from services.common.bus_identity import GATEWAY, BusKeys
from services.common.dbcommands import COMMAND_COUNT
from services.gateway import idempotency, pages, problems, sessions
from services.gateway.audit import AuditLog
from services.gateway.bodylimit import BodyLimitMiddleware
from services.gateway.keys import load_keyring
from services.gateway.middleware import RequestContextMiddleware
from services.gateway.ratelimit import SharedLimits
from services.gateway.routes import (
    accounts,
    auth,
    certificates,
    codes,
    delegations,
    health,
    me,
    org_units,
    organisations,
    partners,
    persons,
    policies,
    tasks,
)
from services.gateway.routes import sessions as sessions_routes
from services.gateway.rpc import RpcClient
from services.gateway.security import SecurityHeadersMiddleware
from services.gateway.settings import Settings, get_settings
from services.gateway.shedding import LoadSheddingMiddleware
from services.gateway.store import GatewayStore
from services.gateway.webhooks import Deliverer

DESCRIPTION = """
One-code city services (一码通城): one personal code (市民码) and one enterprise code (一企一码)
open the city's services. This API serves partner systems and the suite's own pages.

Authenticate with `POST /v1/auth/token` (password grant for people, client credentials for
partner systems) and send `Authorization: Bearer <token>`. Errors are
`application/problem+json`.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        mongo: AsyncIOMotorClient[Any] = AsyncIOMotorClient(
            settings.MONGO_URL,
            tz_aware=True,
            serverSelectionTimeoutMS=3000,
            retryWrites=False,
            event_listeners=[COMMAND_COUNT],
        )
        store = GatewayStore(mongo[settings.database_name("gateway")])
        await store.prepare(deadline=asyncio.get_running_loop().time() + 60)
        keyring = await load_keyring(store, settings.SECRET_KEY.get_secret_value())
        keys = BusKeys.from_settings(
            settings, settings.BUS_SIGNING_KEY, settings.BUS_TRUSTED_KEYS, GATEWAY
        )
        rpc = RpcClient(settings.AMQP_URI, keys, default_timeout=settings.RPC_TIMEOUT)
        await rpc.start(wait=10)
        audit = AuditLog(store, batch=settings.AUDIT_BATCH)
        await audit.start()
        limits = SharedLimits(store)
        slots = asyncio.create_task(limits.sweep(), name="rate-slots-sweep")
        sweeper = asyncio.create_task(idempotency.sweep(store), name="idempotency-sweep")
        forget = asyncio.create_task(sessions.sweep(store), name="sessions-sweep")
        deliverer = Deliverer(
            store, rpc, settings.SECRET_KEY.get_secret_value(), settings.WEBHOOK_POLL_SECONDS
        )
        webhooks = asyncio.create_task(deliverer.run(), name="webhooks")
        try:
            yield {
                "settings": settings,
                "store": store,
                "rpc": rpc,
                "keyring": keyring,
                "audit": audit,
                "limits": limits,
            }
        finally:
            sweeper.cancel()
            forget.cancel()
            slots.cancel()
            webhooks.cancel()
            await audit.stop()
            await rpc.stop()
            mongo.close()

    app = FastAPI(
        title="One-code city API (一码通城)",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    problems.install(app)
    app.add_middleware(idempotency.IdempotencyMiddleware)
    app.add_middleware(
        BodyLimitMiddleware,
        limit=settings.MAX_BODY_BYTES,
        larger={"/v1/tasks": settings.MAX_ATTACHMENT_BODY_BYTES},
        deadline=settings.BODY_TIMEOUT_SECONDS,
    )
    app.add_middleware(LoadSheddingMiddleware, limit=settings.MAX_IN_FLIGHT)
    app.add_middleware(RequestContextMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)
    routers = (
        certificates,
        health,
        auth,
        me,
        accounts,
        org_units,
        partners,
        persons,
        organisations,
        codes,
        delegations,
        sessions_routes,
        policies,
        tasks,
    )
    for module in routers:
        app.include_router(module.router)
    pages.install(app)
    return app
