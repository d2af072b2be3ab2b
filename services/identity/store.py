"""identity's one door to its database: the only module that names its collections.

Methods are named for what identity does with them. The FerretDB rules live here: a write
that must win once is an insert into a unique key (a username, an ID number's keyed hash, a
claim, a scan's dedupe key), hot reads go by ``_id``, and listings are bounded. Personal
data arrive sealed and hashed (:mod:`services.identity.pii`): nothing here sees a number in
clear.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import suppress
from datetime import date, datetime, timedelta
from itertools import count

from pymongo.errors import DuplicateKeyError

from services.common import claims, outbox, signing_keys
from services.common.codec import city_day, utcnow
from services.common.document import Document
from services.common.mongo import Index, by_ids, insert_new
from services.common.store import ServiceStore, inserted

INDEXES = (
    outbox.INDEX,
    Index("accounts", [("username", 1)], unique=True),
    Index("accounts", [("org_ancestors", 1), ("_id", 1)]),
    Index("accounts", [("subject_id", 1)]),
    Index("org_units", [("ancestors", 1), ("_id", 1)]),
    Index("persons", [("id_number.hash", 1)], unique=True),
    Index("persons", [("org_ancestors", 1), ("_id", 1)]),
    Index("organisations", [("credit_code.hash", 1)], unique=True),
    Index("org_operators", [("account_id", 1)]),
    Index("org_operators", [("subject_id", 1)]),
    signing_keys.index("code_keys"),
    signing_keys.index("card_keys"),
    Index("scans", [("sub", 1), ("at", -1)]),
    Index("scans", [("dedupe_key", 1)], unique=True),
    Index("printed_codes", [("sub", 1), ("status", 1)]),
    Index("delegations", [("principal", 1), ("proxy", 1), ("status", 1)]),
    Index("delegations", [("proxy", 1)]),
    Index("proxy_actions", [("principal", 1), ("at", -1)]),
    Index("proxy_actions", [("proxy", 1), ("at", -1)]),
    Index("notifications", [("state", 1), ("next_at", 1)]),
    Index("disclosures", [("principal", 1), ("at", -1)]),
)
LISTED = 5000  # the most a listing reads
SCANS_FILED = "scan_days_filed:v1"  # every scan is in its subject's scan days
_SCANS_FILED: set[str] = set()  # databases seen filed, per process
LOGGED = ("at", "scene", "result", "source", "verifier", "replaced_card")  # what a day keeps
UNREGISTERED_MONTHS = 25  # how far back the history of a subject of unknown age is read
_SLOT_HINTS: dict[tuple[str, str, date], int] = {}  # (database, subject, day) -> a free slot
_HINTS_KEPT = 50_000


# A subject's scans by city day, each in a slot of its own: ``{sub}/{day}/{n}``, n = 0, 1,
# ... taken by inserting the unique ``_id`` (FerretDB scans for any read that is not by
# ``_id``, and loses concurrent updates in place of one document); and a document per month
# the subject was scanned, ``{sub}/{month}``, listing those days (written by compare-and-set
# before a day's first slot, so a listed day may be empty, a day with scans is listed).


def month_key(sub: str, day: date) -> str:
    return f"{sub}/{day.isoformat()[:7]}"


def slot_key(sub: str, day: date, n: int) -> str:
    return f"{sub}/{day.isoformat()}/{n}"


def day_entry(scan: Document) -> Document:
    """What a scan day keeps of ``scan`` (without its slot's ``_id``)."""
    return {"scan": scan["_id"], "sub": scan["sub"]} | {k: scan[k] for k in LOGGED if k in scan}


def scan_days(scans: Iterable[Document]) -> Iterator[Document]:
    """The months and day slots of ``scans``, each day from slot 0 (the filing of scans
    recorded before the days were kept, and the bench's fixture)."""
    days: dict[tuple[str, date], list[Document]] = {}
    for scan in scans:
        days.setdefault((scan["sub"], city_day(scan["at"])), []).append(scan)
    months: dict[str, list[str]] = {}
    for (sub, day), found in days.items():
        months.setdefault(month_key(sub, day), []).append(day.isoformat())
        found.sort(key=lambda s: (s["at"], s["_id"]))
        for n, scan in enumerate(found):
            yield {"_id": slot_key(sub, day, n)} | day_entry(scan)
    for month, listed in months.items():
        yield {"_id": month, "days": sorted(listed), "rev": 0}


def months_back(last: date, first: date) -> Iterator[date]:
    """The first day of each month from that of ``last`` back to that of ``first``."""
    month = last.replace(day=1)
    while month >= first.replace(day=1):
        yield month
        month = (month - timedelta(days=1)).replace(day=1)


class IdentityStore(ServiceStore):
    # keys (claims, counters and events: ServiceStore)

    def key_ring(self, name: str) -> signing_keys.KeyRing:
        """A ring of signing keys (:mod:`services.common.signing_keys` keeps its rules)."""
        return signing_keys.CollectionRing(self.database[name])

    # accounts and logins

    def insert_account(self, account: Document) -> bool:
        """False when the username is taken (a unique key)."""
        return inserted(self.database.accounts, account)

    def ensure_account(self, account: Document) -> bool:
        """Insert unless an account of that username exists; True if new."""
        result = self.database.accounts.update_one(
            {"username": account["username"]}, {"$setOnInsert": account}, upsert=True
        )
        return result.upserted_id is not None

    def load_account(self, account_id: str, fields: Document | None = None) -> Document | None:
        return self.database.accounts.find_one({"_id": account_id}, fields)

    def account_by_username(self, username: str) -> Document | None:
        return self.database.accounts.find_one({"username": username})

    def accounts_within(self, root: str, offset: int, limit: int) -> list[Document]:
        query: Document = {"org_ancestors": root} if root else {}
        cursor = self.database.accounts.find(query).sort("_id", 1)
        return list(cursor.skip(offset).limit(limit))

    def update_account(self, account_id: str, changes: Document) -> None:
        self.database.accounts.update_one({"_id": account_id}, {"$set": changes})

    def login_pair(self, pair: str) -> Document:
        return self.database.login_pairs.find_one({"_id": pair}) or {}

    def put_login_pair(self, pair: str, record: Document) -> None:
        with suppress(DuplicateKeyError):  # two logins at once: either one's record will do
            self.database.login_pairs.replace_one({"_id": pair}, record, upsert=True)

    def login_lock(self, key: str) -> Document | None:
        return self.database.login_locks.find_one({"_id": key})

    def lock_login(self, key: str, until: datetime) -> None:
        with suppress(DuplicateKeyError):  # a racing failure wrote the same lock
            self.database.login_locks.replace_one({"_id": key}, {"until": until}, upsert=True)

    # persons and organisations

    def load_person(self, person_id: str, fields: Document | None = None) -> Document | None:
        return self.database.persons.find_one({"_id": person_id}, fields)

    def load_organisation(self, org_id: str, fields: Document | None = None) -> Document | None:
        return self.database.organisations.find_one({"_id": org_id}, fields)

    def load_subject(self, sub: str, fields: Document | None = None) -> Document | None:
        """A person (``p_…``) or an organisation (``o_…``)."""
        collection = self.database.persons if sub.startswith("p_") else self.database.organisations
        return collection.find_one({"_id": sub}, fields)

    def insert_person(self, person: Document) -> bool:
        """False when the ID number is registered (its keyed hash is a unique key)."""
        return inserted(self.database.persons, person)

    def insert_organisation(self, organisation: Document) -> bool:
        """False when the credit code is registered (a unique key)."""
        return inserted(self.database.organisations, organisation)

    def delete_person(self, person_id: str) -> None:
        self.database.persons.delete_one({"_id": person_id})

    def person_by_number(self, number_hash: str) -> Document | None:
        return self.database.persons.find_one({"id_number.hash": number_hash})

    def organisation_by_code(self, code_hash: str) -> Document | None:
        return self.database.organisations.find_one({"credit_code.hash": code_hash})

    def update_subject(self, sub: str, changes: Document) -> None:
        collection = self.database.persons if sub.startswith("p_") else self.database.organisations
        collection.update_one({"_id": sub}, {"$set": changes})

    def persons_within(self, root: str, offset: int, limit: int) -> list[Document]:
        """The newest first (a counter's last ones)."""
        cursor = self.database.persons.find({"org_ancestors": root})
        return list(cursor.sort([("created_at", -1), ("_id", 1)]).skip(offset).limit(limit))

    def person_names(self, ids: Iterable[str]) -> dict[str, str]:
        return {p["_id"]: p["name"] for p in by_ids(self.database.persons, ids, {"name": 1})}

    def persons_by_ids(self, ids: Iterable[str], fields: Document) -> list[Document]:
        return by_ids(self.database.persons, ids, fields)

    def organisations_by_ids(self, ids: Iterable[str]) -> dict[str, Document]:
        return {o["_id"]: o for o in by_ids(self.database.organisations, ids)}

    def subjects_after(self, after: str, fields: Document, limit: int) -> list[Document]:
        """Organisations and persons whose id sorts after ``after``, by id (each kind up to
        ``limit``: the caller merges them)."""
        found: list[Document] = []
        for name in ("organisations", "persons"):
            cursor = self.database[name].find({"_id": {"$gt": after}}, fields).sort("_id", 1)
            found.extend(cursor.limit(limit))
        return found

    # operators of organisations

    def insert_operator(self, link: Document) -> None:
        self.database.org_operators.insert_one(link)

    def put_operator(self, link: Document) -> None:
        self.database.org_operators.update_one({"_id": link["_id"]}, {"$set": link}, upsert=True)

    def operator_link(self, link_id: str) -> Document | None:
        return self.database.org_operators.find_one({"_id": link_id})

    def operator_links(self, account_id: str | None, subject_id: str | None) -> list[Document]:
        """Links naming the account as operator, or its person as legal representative."""
        held: list[Document] = [{"account_id": account_id}] if account_id else []
        held += [{"subject_id": subject_id}] if subject_id else []
        return list(self.database.org_operators.find({"$or": held})) if held else []

    # org units

    def load_org_unit(self, path: str, fields: Document | None = None) -> Document | None:
        return self.database.org_units.find_one({"_id": path}, fields)

    def insert_org_unit(self, unit: Document) -> bool:
        return inserted(self.database.org_units, unit)

    def org_units_within(self, root: str | None) -> list[Document]:
        query: Document = {"ancestors": root} if root else {}
        return list(self.database.org_units.find(query).sort("_id", 1).limit(LISTED))

    def org_unit_names(self, paths: Iterable[str]) -> dict[str, str]:
        found = self.database.org_units.find({"_id": {"$in": sorted(set(paths))}}, {"name": 1})
        return {u["_id"]: u["name"] for u in found}

    # delegations and what proxies did

    def insert_delegation(self, delegation: Document) -> None:
        self.database.delegations.insert_one(delegation)

    def load_delegation(self, delegation_id: str) -> Document | None:
        return self.database.delegations.find_one({"_id": delegation_id})

    def advance_delegation(self, delegation: Document, update: Document, now: datetime) -> Document:
        """Compare-and-set on the delegation's revision (:func:`services.common.claims.advance`)."""
        return claims.advance(self.database, "delegations", delegation, update, now)

    def guardianships(self, ward: str, guardian: str) -> list[Document]:
        found = self.database.delegations.find(
            {"principal": ward, "proxy": guardian, "kind": "guardian"}
        )
        return list(found)

    def delegations_of(self, sub: str) -> list[Document]:
        """Those the person gave and those given to them, newest first."""
        found = self.database.delegations.find({"$or": [{"principal": sub}, {"proxy": sub}]})
        return list(found.sort("created_at", -1).limit(LISTED))

    def delegations_to(self, proxy: str) -> list[Document]:
        return list(self.database.delegations.find({"proxy": proxy}).limit(LISTED))

    def record_proxy_action(self, action: Document) -> None:
        """Kept once by its id (an act reported twice by another service)."""
        inserted(self.database.proxy_actions, action)

    def proxy_actions(self, role: str, sub: str, limit: int) -> list[Document]:
        """What was done for ``sub`` (``role`` ``principal``) or by them (``proxy``)."""
        found = self.database.proxy_actions.find({role: sub}).sort("at", -1)
        return list(found.limit(limit))

    # disclosures and texts

    def record_disclosure(self, disclosure: Document) -> None:
        """Kept once by its id."""
        inserted(self.database.disclosures, disclosure)

    def disclosures_of(self, principal: str, limit: int) -> list[Document]:
        found = self.database.disclosures.find({"principal": principal}).sort("at", -1)
        return list(found.limit(limit))

    def insert_notification(self, notification: Document) -> bool:
        return inserted(self.database.notifications, notification)

    def due_notification(self, notification_id: str, now: datetime) -> Document | None:
        due = {"_id": notification_id, "state": "pending", "next_at": {"$lte": now}}
        return self.database.notifications.find_one(due)

    def update_notification(self, notification_id: str, changes: Document) -> None:
        self.database.notifications.update_one({"_id": notification_id}, {"$set": changes})

    def due_notifications(self, now: datetime, limit: int) -> list[str]:
        due = {"state": "pending", "next_at": {"$lte": now}}
        return [d["_id"] for d in self.database.notifications.find(due, {"_id": 1}).limit(limit)]

    # scans of codes

    def record_scan(self, scan: Document) -> bool:
        """False when a scan of that id (a code's use, recorded once) or of that dedupe key
        (an offline upload again) is recorded. A recorded scan also takes a slot in its
        subject's day (what :meth:`scans_of` reads by ``_id``), the day listed in its month
        first unless this process took a slot of that day before."""
        if not inserted(self.database.scans, scan):
            return False
        sub, day = scan["sub"], city_day(scan["at"])
        hint = _SLOT_HINTS.get((self.database.name, sub, day), 0)
        if hint == 0:
            claims.listed(self.database, "scan_days", month_key(sub, day), "days", day.isoformat())
        self._take_slot(sub, day, day_entry(scan), hint)
        return True

    def _take_slot(self, sub: str, day: date, entry: Document, first: int) -> None:
        """Put ``entry`` in the first free slot of the day from ``first`` (every slot before
        ``first`` is taken: slots are only ever inserted, each after the one before it; the
        hints this process keeps are of slots it took itself)."""
        for n in count(first):
            if inserted(self.database.scan_days, {"_id": slot_key(sub, day, n)} | entry):
                if len(_SLOT_HINTS) >= _HINTS_KEPT:
                    _SLOT_HINTS.clear()
                _SLOT_HINTS[(self.database.name, sub, day)] = n + 1
                return

    def scans_filed(self) -> bool:
        return self.claimed_once(SCANS_FILED, _SCANS_FILED)

    def file_scans(self, now: datetime) -> int:
        """Every scan recorded before the scan days were kept, in its subject's days (one
        scan of the scans, held in memory), then claimed done; how many. A scan recorded
        meanwhile may be in its day twice: :meth:`scans_of` shows each scan once."""
        if self.scans_filed():
            return 0
        fields = [*LOGGED, "sub"]
        written = list(scan_days(self.database.scans.find({}, fields)))
        for taken in insert_new(self.database.scan_days, written):
            self._refile(dict(taken))
        filed = sum(1 for d in written if "scan" in d)
        self.claim(SCANS_FILED, now, scans=filed)
        return filed

    def _refile(self, document: Document) -> None:
        """A month or a slot a live scan wrote first: its days added, its scan in the next
        free slot."""
        if "days" in document:
            for day in document["days"]:
                claims.listed(self.database, "scan_days", document["_id"], "days", day)
            return
        sub, day, n = document.pop("_id").rsplit("/", 2)
        self._take_slot(sub, date.fromisoformat(day), document, int(n) + 1)

    def load_scan(self, scan_id: str) -> Document | None:
        return self.database.scans.find_one({"_id": scan_id})

    def scans_of(self, subjects: list[str], before: datetime | None, limit: int) -> list[Document]:
        """The subjects' scans before ``before``, newest first: month by month back from that
        of ``before`` (or today) to the month each subject registered, the days each month
        lists, until ``limit`` are found; by a query until filed."""
        if not self.scans_filed():
            query: Document = {"sub": {"$in": subjects}}
            if before is not None:
                query["at"] = {"$lt": before}
            found = self.database.scans.find(query).sort([("at", -1), ("_id", -1)])
            return list(found.limit(limit))
        last = city_day(before if before is not None else utcnow() + timedelta(days=1))
        first = {sub: self._first_day(sub, last) for sub in subjects}
        kept: dict[str, Document] = {}
        for month in months_back(last, min(first.values(), default=last)):
            days: dict[str, list[str]] = {}
            for sub in [s for s, since in first.items() if since <= month]:
                held = self.database.scan_days.find_one({"_id": month_key(sub, month)}) or {}
                for day in held.get("days", []):
                    if day <= last.isoformat():
                        days.setdefault(day, []).append(sub)
            for day in sorted(days, reverse=True):
                for sub in days[day]:
                    kept |= {e["scan"]: e for e in self._day(sub, date.fromisoformat(day), before)}
                if len(kept) >= limit:
                    break
            if len(kept) >= limit:
                break
        newest = sorted(kept.values(), key=lambda e: (e["at"], e["scan"]), reverse=True)
        return [{"_id": e.pop("scan")} | e for e in newest[:limit]]

    def _first_day(self, sub: str, last: date) -> date:
        """The first day of the month ``sub`` registered (a code exists from then on)."""
        subject = self.load_subject(sub, {"created_at": 1})
        if subject is not None and "created_at" in subject:
            return city_day(subject["created_at"]).replace(day=1)
        return (last - timedelta(days=31 * UNREGISTERED_MONTHS)).replace(day=1)

    def _day(self, sub: str, day: date, before: datetime | None) -> list[Document]:
        """The day's slots from 0 to the first free one, those before ``before``."""
        found: list[Document] = []
        for n in count():
            entry = self.database.scan_days.find_one({"_id": slot_key(sub, day, n)}, {"_id": 0})
            if entry is None:
                break
            if before is None or entry["at"] < before:
                found.append(entry)
        return found

    # printed cards

    def insert_card(self, card: Document) -> None:
        self.database.printed_codes.insert_one(card)

    def revoke_cards_before(self, sub: str, card: Document, now: datetime) -> None:
        """Every active card of ``sub`` issued before ``card`` (of two at the same moment,
        the lower id)."""
        earlier = [
            {"issued_at": {"$lt": card["issued_at"]}},
            {"issued_at": card["issued_at"], "_id": {"$lt": card["_id"]}},
        ]
        self.database.printed_codes.update_many(
            {"sub": sub, "status": "active", "$or": earlier},
            {"$set": {"status": "revoked", "revoked_at": now}},
        )

    def active_card(self, sub: str) -> Document | None:
        return self.database.printed_codes.find_one({"sub": sub, "status": "active"})

    def load_card(self, card_id: str) -> Document | None:
        return self.database.printed_codes.find_one({"_id": card_id})

    def card_places(self) -> list[Document]:
        """Every card with a place in the status list: its place, status and holder."""
        found = self.database.printed_codes.find(
            {"idx": {"$exists": True}}, {"idx": 1, "status": 1, "sub": 1}
        )
        return list(found)
