"""Printed codes (物理码) for people without a smartphone: a card staff print at the counter,
checked online and offline.

The card holds a signed token (:mod:`services.identity.cardtoken`) naming a random card id
and the card's place in identity's printed-code status list, a Token Status List of two bits
(valid, revoked, suspended) that identity signs with the card key and terminals download
with the JWKS:

* issuing a new card revokes every earlier one of the person (lost, worn or stolen), and a
  person's death every card of theirs;
* freezing the person (by staff, or by themself) suspends the card, unfreezing restores it;
* each card's place in the list is drawn at random from a list of fixed size, so neither
  the list's length nor a card's place says how many cards there are or in which order
  they were issued;
* a terminal offline trusts a list at most ``STATUS_LIFETIME`` old and fetches a new one
  every ``STATUS_TTL``: a lost card is refused offline within that time, online at once.

Cards printed before cards were signed (``OCC1.`` opaque codes) still work online until the
person is given a new card.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from services.common import token_status
from services.common.access import Guard
from services.common.codec import to_wire
from services.common.document import Document
from services.common.errors import Forbidden, InvalidInput, NotFound
from services.identity import scans
from services.identity.cardtoken import (
    STATUS_LIFETIME,
    CardClaims,
    new_card_id,
    read_card,
    sign_card,
)
from services.identity.codekeys import CLOCK_SKEW, SKEW_SECONDS, KeyCache
from services.identity.codetoken import CodeRefused
from services.identity.pii import PiiKeys
from services.identity.store import IdentityStore
from services.identity.subjects import find_subject, get_subject, status_of

CARD_LIFETIME = timedelta(days=5 * 365)  # then the person is given a new card
LIST_SIZE = 1 << 20  # places in the list (a card per person without a smartphone)
MAX_PUBLIC_URL = 40  # longer, and a card's QR would grow past MAX_QR_VERSION
LOCAL_URL = "http://127.0.0.1:8000"  # the local suite's, when PUBLIC_URL is not set
CARD_KEY_OVERLAP = CARD_LIFETIME + CLOCK_SKEW  # a key stays published while its cards last
STATUS_TTL = 300  # seconds a terminal keeps the list before fetching it again
STATUS_PATH = "/v1/codes/printed/status-list"
BITS = 2
LEGACY_PREFIX = "OCC1."
LOST = "遗失或损坏请到社区服务中心补办，补办后旧卡立即失效"


def status_uri(public_url: str) -> str:
    return public_url.rstrip("/") + STATUS_PATH


def checked_public_url(public_url: str) -> str:
    """The gateway's address as cards will name it for five years: absolute, and short
    enough for the card's QR."""
    url = public_url.rstrip("/")
    if not url.startswith(("https://", "http://")) or len(url) > MAX_PUBLIC_URL:
        raise ValueError(f"PUBLIC_URL must be an http(s) address of at most {MAX_PUBLIC_URL}")
    return url


def issue(
    store: IdentityStore,
    keys: PiiKeys,
    cards: KeyCache,
    guard: Guard,
    now: datetime,
    person_id: str,
    public_url: str,
) -> dict[str, Any]:
    """A new card for the person; every earlier card of theirs is revoked."""
    person = get_subject(store, guard, person_id, "person")
    if not person["_id"].startswith("p_"):
        raise NotFound("no such person")
    cid, idx = new_card_id(), _place(store, now)
    kid, key = cards.signing_key(store, now)
    lifetime = int(CARD_LIFETIME.total_seconds())
    code = sign_card(cid, idx, status_uri(public_url), kid, key, int(now.timestamp()), lifetime)
    record = {
        "_id": cid,
        "sub": person["_id"],
        "idx": idx,
        "sealed": keys.protect(code, f"printed:{person['_id']}")["sealed"],
        "status": "active",
        "issued_at": now,
        "expires_at": now + CARD_LIFETIME,
        "issued_by": guard.actor.account_id,
    }
    store.insert_card(record)
    # Every earlier card stops; of two issued at the same moment the later id is kept, so
    # two clerks at once never leave the person without a card.
    store.revoke_cards_before(person["_id"], record, now)
    return card_view(person, code, record)


def _place(store: IdentityStore, now: datetime) -> int:
    """A free place in the list, drawn at random (each taken once: a claim)."""
    while True:
        idx = secrets.randbelow(LIST_SIZE)
        if store.claim(f"printed_card_index:{idx}", now):
            return idx


def card_view(person: Document, code: str, record: Document) -> dict[str, Any]:
    return to_wire(
        {
            "code": code,
            "person_id": person["_id"],
            "name": person["name"],
            "id_number_masked": person["id_number"]["masked"],
            "issued_at": record["issued_at"],
            "expires_at": record.get("expires_at"),
            "offline": "expires_at" in record,
            "if_lost": LOST,
        }
    )


def current(store: IdentityStore, keys: PiiKeys, guard: Guard, person_id: str) -> dict[str, Any]:
    """For reprinting the card: staff in the jurisdiction read the active one."""
    person = get_subject(store, guard, person_id, "person")
    record = store.active_card(person["_id"])
    if record is None:
        raise NotFound("this person has no printed code")
    code = keys.reveal({"sealed": record["sealed"]}, f"printed:{person['_id']}")
    return card_view(person, code, record)


def check(
    store: IdentityStore,
    keys: PiiKeys,
    cards: KeyCache,
    terminal: Document,
    now: datetime,
    token: str,
    scene: str,
) -> Document:
    """The card's person, when the card is genuine, current and the person not frozen (the
    scan recorded either way); refused as ``forged``, ``expired``, ``revoked`` or
    ``frozen`` otherwise."""
    if token.startswith(LEGACY_PREFIX):
        record = store.load_card(keys.lookup_hash(token))
    else:
        claims = _claims(store, cards, now, token)
        record = store.load_card(claims.cid)
    if record is None:
        raise InvalidInput("this is not a valid code", field="token", code="forged")
    if record["status"] != "active":
        scans.record(store, record["sub"], terminal, scene, "revoked", now, source="printed")
        raise InvalidInput(
            "this printed code was replaced by a newer card", field="token", code="revoked"
        )
    subject = find_subject(store, record["sub"])
    if subject is None or status_of(subject) in ("frozen", "deceased"):
        scans.record(store, record["sub"], terminal, scene, "frozen", now, source="printed")
        raise Forbidden("this code is frozen", code="frozen")
    scans.record(store, record["sub"], terminal, scene, "ok", now, source="printed")
    return subject


def _claims(store: IdentityStore, cards: KeyCache, now: datetime, token: str) -> CardClaims:
    """The card's claims, by the card keys as they stand now: the ring is read again for
    each card (a card is shown far less often than a dynamic code), so a key withdrawn by
    any replica is refused by every replica at once."""
    cards.refresh(store, now, force=True)
    try:
        return read_card(token, cards.public_keys(store, now), now.timestamp(), SKEW_SECONDS)
    except CodeRefused as refused:
        if refused.reason == "expired":
            raise InvalidInput(
                "this card has expired; a new one is issued at the community service centre",
                field="token",
                code="expired",
            ) from refused
        raise InvalidInput("this is not a valid code", field="token", code="forged") from refused


def status_list(store: IdentityStore, cards: KeyCache, now: datetime, public_url: str) -> str:
    """The signed list of every card's status."""
    records = store.card_places()
    holders = {r["sub"] for r in records if r["status"] == "active"}
    people = store.persons_by_ids(holders, {"frozen_self": 1, "frozen_staff": 1, "status": 1})
    kid, key = cards.signing_key(store, now)
    return token_status.sign(
        status_uri(public_url),
        statuses(records, {p["_id"]: p for p in people}),
        BITS,
        LIST_SIZE,
        kid,
        key,
        int(now.timestamp()),
        STATUS_TTL,
        int(STATUS_LIFETIME.total_seconds()),
    )


def statuses(records: list[Document], people: dict[str, Document]) -> dict[int, int]:
    """Each card's place and status (valid ones left out): a replaced card is invalid, and
    so is every card of a person who died; an active card of a frozen person is suspended."""
    found = {}
    for record in records:
        person = people.get(record["sub"])
        state = status_of(person) if person is not None else "active"
        if record["status"] != "active" or state == "deceased":
            found[int(record["idx"])] = token_status.INVALID
        elif state == "frozen":
            found[int(record["idx"])] = token_status.SUSPENDED
    return found
