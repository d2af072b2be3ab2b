"""Sessions: every access token belongs to one, and a session can end before its token
expires.

A login (or a partner client's token request) opens a session, a document keyed by the
token's ``sid``; every authenticated request reads it by ``_id`` (the one lookup fast on
FerretDB as on MongoDB) and is refused once the session has ended or expired. Logging out
ends the session of the token used; "log out everywhere" (a lost phone), a changed or reset
password and a disabled account or partner client end all of the account's sessions. Each
takes effect on the next request, in every gateway process, since the session lives in the
gateway's database and not in a process.

A session keeps when and from where it started (the address masked: the first three parts of
an IPv4 address, the first four groups of an IPv6 one) and the browser's name, so its owner
recognises it on the sessions page.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from services.common.codec import to_wire, utcnow
from services.common.errors import Unauthenticated
from services.gateway.store import GatewayStore, StoreError

KEEP_ENDED = timedelta(days=1)


def masked_address(address: str | None) -> str | None:
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return None
    if ip.version == 4:
        return ".".join(str(ip).split(".")[:3]) + ".*"
    return ":".join(ip.exploded.split(":")[:4]) + ":*"


async def open_session(
    store: GatewayStore,
    account: str,
    now: datetime,
    lifetime_s: int,
    *,
    kind: str,
    user_agent: str | None,
    address: str | None,
) -> str:
    sid = secrets.token_urlsafe(18)
    await store.open_session(
        {
            "_id": sid,
            "account": account,
            "kind": kind,
            "created_at": now,
            "expires_at": now + timedelta(seconds=lifetime_s),
            "ended_at": None,
            "user_agent": (user_agent or "")[:200] or None,
            "address": masked_address(address),
        }
    )
    return sid


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


async def require_live(store: GatewayStore, sid: Any, account: str, now: datetime) -> None:
    """Refuse a token whose session is unknown, someone else's, ended or expired."""
    refused = Unauthenticated("this session has ended; log in again")
    if not isinstance(sid, str):
        raise refused
    found = await store.load_session(sid)
    if found is None or found["account"] != account or found.get("ended_at") is not None:
        raise refused
    if _aware(found["expires_at"]) <= now:
        raise refused


async def end(store: GatewayStore, sid: str, now: datetime, by: str | None) -> None:
    await store.end_session(sid, now, by)


async def end_all(
    store: GatewayStore,
    account: str,
    now: datetime,
    by: str | None,
    keep: str | None = None,
) -> int:
    """End every live session of ``account`` (but ``keep``); returns how many ended."""
    ended = 0
    for sid in await store.live_session_ids(account):
        if sid != keep:
            await end(store, sid, now, by)
            ended += 1
    return ended


def view(found: dict[str, Any], current: str | None) -> dict[str, Any]:
    result: dict[str, Any] = to_wire(
        {
            "id": found["_id"],
            "kind": found["kind"],
            "created_at": found["created_at"],
            "expires_at": found["expires_at"],
            "user_agent": found.get("user_agent"),
            "address": found.get("address"),
            "current": found["_id"] == current,
        }
    )
    return result


async def live_of(
    store: GatewayStore, account: str, now: datetime, current: str | None
) -> list[dict[str, Any]]:
    found = await store.live_sessions(account)
    return [view(s, current) for s in found if _aware(s["expires_at"]) > now]


async def sweep(store: GatewayStore, every: float = 3600) -> None:
    """Forget sessions a day after they expired; every replica may run it."""
    while True:
        with contextlib.suppress(StoreError):
            await store.forget_sessions_expired_before(utcnow() - KEEP_ENDED)
        await asyncio.sleep(every)
