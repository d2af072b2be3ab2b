"""Personal and enterprise codes, online: issue a dynamic code, verify a scan for a scene
(printed cards are checked by :mod:`services.identity.cards`).

An online scan checks the signature, the expiry, the subject's status and single use of the
code's ``jti`` (the accepted scan's record carries a unique ``jti:…`` key: of twenty
simultaneous scans of one code exactly one inserts). It answers only what the scene may see.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import jwt

from services.common.access import Guard
from services.common.codec import format_time, parse_time
from services.common.document import Document
from services.common.errors import Conflict, Forbidden, InvalidInput, NotFound
from services.identity import access, cards, delegation, scans
from services.identity.cardtoken import is_card
from services.identity.codekeys import JWKS_CACHE, SKEW_SECONDS, KeyCache
from services.identity.codetoken import CodeRefused, read_code, sign_code
from services.identity.pii import PiiKeys
from services.identity.store import IdentityStore
from services.identity.subjects import (
    concession_for,
    find_subject,
    frozen_notice,
    is_frozen,
    load,
)

# What each scene may see (overridable with SCENE_FIELDS in the service config).
SCENE_FIELDS: dict[str, list[str]] = {
    "metro": ["valid", "concession"],
    "bus": ["valid", "concession"],
    "scenic_spot": ["valid", "concession"],
    "library": ["valid", "name"],
    "hotel": ["name", "id_number_masked"],
    "gov_counter": ["name", "id_number_masked", "phone"],
    "hospital": ["name", "id_number_masked", "medical_insurance"],
}
ORGANISATION_FIELDS = ["valid", "name", "credit_code_masked"]


def issue_code(
    store: IdentityStore,
    cache: KeyCache,
    guard: Guard,
    now: datetime,
    ttl: int,
    organisation_id: str | None = None,
) -> dict[str, Any]:
    """A fresh dynamic code for the caller, a person they act for with the ``show_code``
    scope, or an organisation they operate."""
    actor = guard.actor
    if organisation_id is not None:
        subject = load(store, organisation_id)
        if subject is None or not subject["_id"].startswith("o_"):
            raise NotFound("no such organisation", field="organisation_id")
        guard.require(access.subject(subject), "no such organisation", field="organisation_id")
        sub, proxy = subject["_id"], None
    else:
        sub, proxy = guard.acting_for()
        found = find_subject(store, sub)
        if found is None:
            raise NotFound("no such subject")
        subject = found
    if is_frozen(subject):
        raise Forbidden("this code is frozen", code="frozen", frozen=frozen_notice(subject))
    kid, key = cache.signing_key(store, now)
    token, claims = sign_code(sub, kid, key, int(now.timestamp()), ttl)
    if proxy is not None:
        delegation.record_proxy_action(
            store, sub, proxy, "show_code", now, actor, {"jti": claims.jti}
        )
    return {
        "token": token,
        "subject_id": sub,
        "expires_at": format_time(datetime.fromtimestamp(claims.exp, now.tzinfo)),
        "refresh_in": max(5, ttl - 15),
        "token_bytes": len(token.encode()),
    }


def _scene_fields(scene: Any, table: dict[str, list[str]]) -> list[str]:
    if not isinstance(scene, str) or scene not in table:
        raise InvalidInput(
            f"unknown scene; one of {', '.join(sorted(table))}", field="scene", code="unknown_scene"
        )
    return table[scene]


_TERMINALS: dict[str, tuple[float, Document | None]] = {}
TERMINAL_CACHE_SECONDS = 10.0


def _terminal(store: IdentityStore, account_id: str | None) -> Document | None:
    """A verifier account, cached briefly: a terminal scans many codes a minute, and a change
    to its scenes takes effect within ``TERMINAL_CACHE_SECONDS``."""
    key = f"{store.name}:{account_id}"
    cached = _TERMINALS.get(key)
    if cached is not None and time.monotonic() - cached[0] < TERMINAL_CACHE_SECONDS:
        return cached[1]
    shown = {"display_name": 1, "username": 1, "scenes": 1, "status": 1}
    account = store.load_account(account_id, shown) if account_id else None
    if len(_TERMINALS) > 10_000:
        _TERMINALS.clear()
    _TERMINALS[key] = (time.monotonic(), account)
    return account


def _require_terminal_for(store: IdentityStore, guard: Guard, scene: str) -> Document:
    """The terminal is registered for the scene now (its account, read briefly cached), not
    only when its token was issued."""
    guard.require(
        access.scene(scene),
        refused="this terminal is not registered for the scene",
        code="scene_not_allowed",
    )
    account = _terminal(store, guard.actor.account_id)
    if (
        account is None
        or account.get("status") != "active"
        or scene not in account.get("scenes", [])
    ):
        raise Forbidden("this terminal is not registered for the scene", code="scene_not_allowed")
    return account


def scene_view(
    subject: Document, fields: list[str], keys: PiiKeys, now: datetime
) -> dict[str, Any]:
    if subject["_id"].startswith("o_"):
        values = {
            "valid": True,
            "name": subject["name"],
            "credit_code_masked": subject["credit_code"]["masked"],
        }
        return {f: values[f] for f in ORGANISATION_FIELDS}
    shown: dict[str, Any] = {}
    for field in fields:
        if field == "valid":
            shown["valid"] = True
        elif field == "concession":
            shown["concession"] = concession_for(subject, now.date())
        elif field == "name":
            shown["name"] = subject["name"]
        elif field == "id_number_masked":
            shown["id_number_masked"] = subject["id_number"]["masked"]
        elif field == "phone":
            phone = subject.get("phone")
            shown["phone"] = keys.reveal(phone, f"person:{subject['_id']}:phone") if phone else None
        elif field == "medical_insurance":
            shown["medical_insurance"] = bool(subject.get("medical_insurance"))
    return shown


def verify_code(
    store: IdentityStore,
    cache: KeyCache,
    card_keys: KeyCache,
    keys: PiiKeys,
    guard: Guard,
    now: datetime,
    token: str,
    scene: str,
    table: dict[str, list[str]],
    terminal_time: str | None = None,
) -> dict[str, Any]:
    """A code shown now: a dynamic code (single use) or a printed card (shown again and
    again; :mod:`services.identity.cards`)."""
    fields = _scene_fields(scene, table)
    terminal = _require_terminal_for(store, guard, scene)
    clock = _clock_of(terminal_time, now)
    if isinstance(token, str) and (is_card(token) or token.startswith(cards.LEGACY_PREFIX)):
        holder = cards.check(store, keys, card_keys, terminal, now, token, scene)
        return {
            "result": "valid",
            "scene": scene,
            "subject_type": "person",
            "fields": scene_view(holder, fields, keys, now),
            "checked_at": format_time(now),
            "printed": True,
            **clock,
        }
    published = cache.public_keys(store, now, _kid_of(token))
    try:
        # Expiry by our own clock (the code's), its issue time a skew ahead at most (replicas)
        claims = read_code(token, published, now.timestamp(), ahead=SKEW_SECONDS)
    except CodeRefused as refused:
        if refused.reason == "clock":  # our own clocks disagree (another replica signed it)
            raise InvalidInput(
                "this code was issued ahead of the checking clock", field="token", code="clock"
            ) from refused
        if refused.reason == "expired" and refused.claims:
            scans.record(
                store,
                str(refused.claims["sub"]),
                terminal,
                scene,
                "expired",
                now,
                jti=str(refused.claims.get("jti")),
            )
            raise InvalidInput(
                "this code has expired; show a fresh one", field="token", code="expired"
            ) from refused
        raise InvalidInput("this is not a valid code", field="token", code="forged") from refused
    subject = find_subject(store, claims.sub)
    if subject is None:
        raise InvalidInput("this is not a valid code", field="token", code="forged")
    if is_frozen(subject) or subject.get("status") == "deceased":
        scans.record(store, claims.sub, terminal, scene, "frozen", now, jti=claims.jti)
        raise Forbidden("this code is frozen", code="frozen")
    if not scans.record_first_use(store, claims.sub, terminal, scene, claims.jti, now):
        scans.record(store, claims.sub, terminal, scene, "replayed", now, jti=claims.jti)
        raise Conflict("this code has already been used", field="token", code="replayed")
    return {
        "result": "valid",
        "scene": scene,
        "subject_type": "organisation" if claims.sub.startswith("o_") else "person",
        "fields": scene_view(subject, fields, keys, now),
        "checked_at": format_time(now),
        **clock,
    }


def _clock_of(terminal_time: str | None, now: datetime) -> dict[str, Any]:
    """A terminal that says what its clock reads is told when it is off by more than the
    skew (its offline checks would then say ``clock``); the online check goes by ours."""
    if terminal_time is None:
        return {}
    told = parse_time(terminal_time, field="terminal_time")
    off = (told - now).total_seconds()
    if abs(off) <= SKEW_SECONDS:
        return {}
    return {"clock": {"result": "clock", "off_by_seconds": round(off)}}


def rotate_keys(
    store: IdentityStore, cache: KeyCache, now: datetime, compromised: bool
) -> dict[str, Any]:
    """A planned rotation (the next key signs after the lead) or a compromised key's
    withdrawal (the next key signs now)."""
    key = cache.rotate(store, now, compromised)
    return {
        "next_kid": key.kid,
        "signs_from": format_time(key.signs_from),
        "signing_kid": cache.signing_key(store, now)[0],
        "compromised": compromised,
    }


def jwks(store: IdentityStore, rings: tuple[KeyCache, ...], now: datetime) -> dict[str, Any]:
    """What terminals fetch: the published keys of every ring, read afresh (a terminal keeps
    it for ``cache_seconds``; a key withdrawn on any replica is gone from the next one)."""
    keys = []
    for ring in rings:
        ring.refresh(store, now, force=True)
        keys += ring.jwks(store, now)["keys"]
    return {"keys": keys, "cache_seconds": int(JWKS_CACHE.total_seconds())}


def _kid_of(token: Any) -> str | None:
    """The header's kid, to refresh the key cache when a replica rotated; read_code verifies."""
    try:
        return str(jwt.get_unverified_header(token).get("kid"))
    except (jwt.PyJWTError, TypeError, AttributeError):
        return None
