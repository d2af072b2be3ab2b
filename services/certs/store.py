"""certs' one door to its database: the only module of certs that names its collections (the
shared helpers of :mod:`services.common` it calls, claims and the outbox, keep theirs).

Methods are named for what the service does with them. The FerretDB rules live here: a
write that must happen once is an insert into a unique key (a certificate's number and
version, an issuer and request id, an issuer's status-list place; a holding per type and
holder), compare-and-set goes through a claimed revision (:func:`services.common.claims.
advance`), and every listing is bounded. The indexes serve the reads that are not by ``_id``
on MongoDB; FerretDB keeps them too but scans for those filters, so what is read on every
public check, wallet and composite licence is found by ``_id`` instead: ``numbers`` keeps
each certificate number's subject and the ids of its versions, ``shelves`` each subject's
numbers, and ``calendar`` the certificates falling due on each day (to start, or to be
announced expired; a day in :data:`CALENDAR_SHARDS` documents; the sweeps read from
``sweeps``' first day to today, and the ids no longer due leave their day), all written
before the certificate (an id whose certificate never got written is skipped by the readers)
by compare-and-set. A database that had certificates before them is filed once at start
(:meth:`CertsStore.file_existing`); until that is done the readers scan as before.

:class:`CertsStore` works on the real database; the integration layer tries every method on
FerretDB (``tests/integration/certs/test_store.py``).
"""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from typing import Any

from pymongo.errors import PyMongoError

from services.common import claims, outbox, signing_keys
from services.common.codec import city_day
from services.common.document import Document
from services.common.errors import Conflict
from services.common.mongo import Index, insert_new, racing_upsert
from services.common.store import ServiceStore, inserted

INDEXES = (
    outbox.INDEX,
    Index("certificates", [("number", 1), ("version", 1)], unique=True),
    Index("certificates", [("issuer", 1), ("request_id", 1)], unique=True),
    Index("certificates", [("issuer", 1), ("status_index", 1)], unique=True),
    Index("certificates", [("issuer", 1), ("status", 1)]),
    Index("certificates", [("status", 1), ("valid_until", 1)]),
    Index("certificates", [("subject", 1), ("issued_at", -1)]),
    Index("issuers", [("code", 1)], unique=True),
    Index("disclosures", [("holders", 1), ("at", -1)]),
    Index("disclosures", [("issuer", 1)]),
    Index("presentations", [("holders", 1)]),
    Index("applications", [("applicant", 1), ("submitted_at", -1)]),
    signing_keys.index("wallet_keys"),
)
LISTED = 500  # the most a listing of certificates reads
TYPES_FOR = 60.0  # seconds a process keeps the catalogue of types it read
_LOCK = threading.Lock()  # green under eventlet, as nameko's workers are
_TYPES: dict[str, tuple[float, list[Document]]] = {}  # per database: (read at, types)
_NEXT_PLACE: dict[tuple[str, str], int] = {}  # per (database, issuer): the next candidate
NOT_VALID = ("revoked", "suspended", "superseded")  # stored states a status list marks
FILED = "certificates_filed:v3"  # every certificate is in numbers, shelves and calendar
_FILED: set[str] = set()  # databases seen filed, per process
STATUS_FILED = "status_places_filed:v1"  # every issuer's status places are in status_places
_STATUS_FILED: set[str] = set()  # databases seen with their status places filed, per process
LISTING_ATTEMPTS = claims.LISTING_ATTEMPTS  # a status place written meanwhile is read again
SWEEPS = ("start", "expiry")  # the days certificates fall due on, filed in ``calendar``
KEPT_IN_VIEW = 1  # days before today a sweep reads again (writers racing midnight)
CALENDAR_SHARDS = 16  # documents a day's file is split over, so issues at once rarely meet


def due_days(certificate: Document, today: date) -> list[tuple[str, str]]:
    """The (sweep, day) files a certificate goes in: the day it starts, when it was issued
    ahead of it, and the day after its last, when its expiry is to be announced; never a day
    before ``today`` (a backdated certificate falls due at once)."""
    filed = []
    if certificate.get("start_pending"):
        filed.append(("start", max(date.fromisoformat(str(certificate["valid_from"])), today)))
    until = certificate.get("valid_until")
    if until and certificate.get("status") == "valid" and not certificate.get("expiry_announced"):
        filed.append(("expiry", max(date.fromisoformat(str(until)) + timedelta(1), today)))
    return [(sweep, day.isoformat()) for sweep, day in filed]


def not_valid(certificate: Document) -> bool:
    """Whether a status list marks the certificate (revoked, suspended, superseded, or a
    composite licence with a part failing)."""
    return certificate.get("status") in NOT_VALID or bool(certificate.get("parts_failing"))


def place_key(certificate: Document) -> str:
    return f"p{int(certificate['status_index'])}"


def _expiring(certificate: Document) -> bool:
    return certificate.get("status") == "valid" and not certificate.get("expiry_announced")


def calendar_key(sweep: str, day: str, certificate_id: str) -> str:
    """The file of ``sweep``'s ``day`` that holds ``certificate_id``: one of
    :data:`CALENDAR_SHARDS` by a stable hash of the id (every certificate issued today with
    the same validity falls due the same day, and one document written by compare-and-set
    from 32 writers at once was the bound of issuing, with some giving up)."""
    return calendar_shard(sweep, day, zlib.crc32(certificate_id.encode()) % CALENDAR_SHARDS)


def calendar_shard(sweep: str, day: str, shard: int) -> str:
    return f"{sweep}:{day}#{shard}"


class CertsStore(ServiceStore):
    # claims and keys (the rest of claims, counters and events: ServiceStore)

    def is_claimed(self, key: str) -> bool:
        return self.database[claims.CLAIMS].find_one({"_id": key}, {"_id": 1}) is not None

    def repoint_claim(self, key: str, **detail: Any) -> None:
        self.database[claims.CLAIMS].update_one({"_id": key}, {"$set": detail})

    def wallet_keys(self) -> signing_keys.KeyRing:
        """The city wallet's ring of signing keys (:mod:`services.common.signing_keys`)."""
        return signing_keys.CollectionRing(self.database.wallet_keys)

    # certificate types

    def put_cert_type(self, cert_type: Document) -> None:
        """A seeded type, maintained in code: a new release updates it in place."""
        self.database.cert_types.update_one(
            {"_id": cert_type["_id"]}, {"$set": cert_type}, upsert=True
        )
        with _LOCK:
            _TYPES.pop(self.database.name, None)

    def load_cert_type(self, code: str) -> Document | None:
        return next((t for t in self.cert_types() if t["_id"] == code), None)

    def cert_types(self) -> list[Document]:
        """The catalogue, read at most once every ``TYPES_FOR`` per process: types are
        written only by the start-up seed of a release, and every issue, amendment, card
        and check reads them."""
        key, clock = self.database.name, time.monotonic()
        with _LOCK:
            cached = _TYPES.get(key)
        if cached is not None and clock - cached[0] < TYPES_FOR:
            return [dict(t) for t in cached[1]]
        found = list(self.database.cert_types.find({}).sort("_id", 1))
        with _LOCK:
            _TYPES[key] = (clock, found)
        return [dict(t) for t in found]

    def composite_types_of(self, part_type: str) -> list[Document]:
        """The composite licence types that bundle ``part_type``."""
        return [t for t in self.cert_types() if part_type in (t.get("sub_types") or [])]

    # issuers

    def insert_issuer(self, issuer: Document) -> bool:
        """False when an issuer of that code exists (a unique key)."""
        return inserted(self.database.issuers, issuer)

    def load_issuer(self, issuer_id: str, fields: Document | None = None) -> Document | None:
        return self.database.issuers.find_one({"_id": issuer_id}, fields)

    def issuers(self, fields: Document | None = None) -> list[Document]:
        return list(self.database.issuers.find({}, fields).sort("_id", 1))

    def issuers_of_type(self, cert_type: str, fields: Document | None = None) -> list[Document]:
        return list(self.database.issuers.find({"types": cert_type}, fields).sort("_id", 1))

    def next_place_hint(self, issuer_id: str) -> int:
        """Where to start looking for an issuer's next free status-list place (the issuer's
        ``next_index``, kept with $max; on FerretDB it can lag by the number of concurrent
        issues, which only costs a few extra claims)."""
        found = self.database.issuers.find_one({"_id": issuer_id}, {"next_index": 1}) or {}
        return int(found.get("next_index", 0))

    def raise_next_place(self, issuer_id: str, beyond: int) -> None:
        self.database.issuers.update_one({"_id": issuer_id}, {"$max": {"next_index": beyond}})

    def take_place(self, issuer_id: str, now: datetime) -> int:
        """The next free place in the issuer's status list, claimed once (no two callers
        anywhere get the same). Within a process the candidates are handed out in turn
        before anyone writes, so that concurrent issues do not all try the same place and
        step through each other's (32 at once cost hundreds of claims when each started
        from the stored hint); across processes the claims decide."""
        key = (self.database.name, issuer_id)
        with _LOCK:
            known = key in _NEXT_PLACE
        hint = 0 if known else self.next_place_hint(issuer_id)
        while True:
            with _LOCK:
                place = max(hint, _NEXT_PLACE.get(key, hint))
                _NEXT_PLACE[key] = place + 1
            if self.claim(claims.counter_key(f"status_index:{issuer_id}", place), now):
                break
        self.raise_next_place(issuer_id, place + 1)
        return place

    # certificates

    def insert_certificate(self, certificate: Document, claim: str | None = None) -> bool:
        """False when its number and version, or its issuer and request id, exist (unique
        keys). Any other database error is raised, after releasing ``claim`` (the request's)
        so that the caller may retry the same request."""
        try:
            self._file(certificate)
            if inserted(self.database.certificates, certificate):
                if not_valid(certificate):  # entered for the record as revoked, say
                    self._list_place(certificate, certificate["issued_at"])
                return True
        except PyMongoError:
            if claim is not None:
                self.release_claim(claim)
            raise
        self._unfile(certificate)
        return False

    # where each certificate is filed: its number's versions, its subject's numbers

    def _file(self, certificate: Document) -> None:
        number, subject = certificate["number"], certificate["subject"]
        self._listed("shelves", subject, "numbers", add=number)
        self._listed("numbers", number, "versions", add=certificate["_id"], subject=subject)
        self._file_days(certificate, city_day(certificate["issued_at"]))

    def _file_days(self, certificate: Document, today: date) -> None:
        for sweep, day in due_days(certificate, today):
            key = calendar_key(sweep, day, certificate["_id"])
            self._listed("calendar", key, "certificates", add=certificate["_id"])

    def _listed(
        self,
        collection: str,
        key: str,
        field: str,
        add: str | None = None,
        remove: Iterable[str] = (),
        **fixed: Any,
    ) -> None:
        claims.listed(self.database, collection, key, field, add, remove, **fixed)

    def _unfile(self, certificate: Document) -> None:
        """A version refused (its number and version, or its request, taken) or undone: its
        id leaves the number (the subject's shelf keeps the number, which holds another
        version). Not when a certificate of that id is stored (the same one sent again)."""
        if self.load_certificate(certificate["_id"]) is None:
            self._listed("numbers", certificate["number"], "versions", remove=[certificate["_id"]])

    def filed(self) -> bool:
        """Whether every certificate is filed (:meth:`file_existing` done)."""
        return self.claimed_once(FILED, _FILED)

    def file_existing(self, now: datetime) -> int:
        """File every certificate there is, by number, by subject and on the days it falls
        due (one scan), then claim that it is done; how many were filed. Certificates written
        meanwhile file themselves, and what they filed is added to, never overwritten (a
        replica filing at the same moment costs reads, not entries)."""
        if self.filed():
            return 0
        versions: dict[str, tuple[str, list[str]]] = {}
        numbers: dict[str, list[str]] = {}
        days: dict[str, list[str]] = {}
        fields = ("number", "subject", "start_pending", "valid_from", "valid_until", "status")
        found = self.database.certificates.find({}, [*fields, "expiry_announced"])
        for c in found:
            versions.setdefault(c["number"], (c["subject"], []))[1].append(c["_id"])
            numbers.setdefault(c["subject"], []).append(c["number"])
            for sweep, day in due_days(c, city_day(now)):
                days.setdefault(calendar_key(sweep, day, c["_id"]), []).append(c["_id"])
        self._file_lists(
            "numbers",
            "versions",
            {n: ids for n, (_, ids) in versions.items()},
            {n: {"subject": subject} for n, (subject, _) in versions.items()},
        )
        self._file_lists("shelves", "numbers", numbers, {})
        self._file_lists("calendar", "certificates", days, {})
        self.claim(FILED, now, certificates=sum(len(ids) for _, ids in versions.values()))
        return sum(len(ids) for _, ids in versions.values())

    def _file_lists(
        self,
        collection: str,
        field: str,
        lists: dict[str, list[str]],
        fixed: dict[str, Document],
    ) -> None:
        """Each list of ``lists`` written whole where nobody wrote it yet (an insert into its
        unique ``_id``), else item by item by compare-and-set (:func:`claims.listed`): a
        certificate a live process filed meanwhile is kept, not overwritten."""
        written = [
            {"_id": key, field: sorted(set(items)), "rev": 0, **fixed.get(key, {})}
            for key, items in lists.items()
        ]
        for taken in insert_new(self.database[collection], written):
            for item in taken[field]:
                self._listed(
                    collection, taken["_id"], field, add=item, **fixed.get(taken["_id"], {})
                )

    def _versions(self, number: str) -> list[Document]:
        """Every version of ``number`` there is, oldest first, read by ``_id``."""
        entry = self.database.numbers.find_one({"_id": number}) or {}
        found = [self.load_certificate(i) for i in entry.get("versions", [])]
        kept = [c for c in found if c is not None and c["number"] == number]
        return sorted(kept, key=lambda c: int(c["version"]))

    def _shelf(self, subject: str) -> list[Document]:
        """Every version of every certificate of ``subject``."""
        shelf = self.database.shelves.find_one({"_id": subject}) or {}
        return [c for n in shelf.get("numbers", []) for c in self._versions(n)]

    def load_certificate(self, certificate_id: str) -> Document | None:
        return self.database.certificates.find_one({"_id": certificate_id})

    def delete_certificate(self, certificate_id: str) -> None:
        found = self.database.certificates.find_one({"_id": certificate_id}, {"number": 1})
        self.database.certificates.delete_one({"_id": certificate_id})
        if found is not None:
            self._unfile(found)

    def certificate_of_request(self, issuer_id: str, request_id: str) -> Document | None:
        return self.database.certificates.find_one({"issuer": issuer_id, "request_id": request_id})

    def versions_of(self, number: str) -> list[Document]:
        """Every version of a certificate number, oldest first."""
        if self.filed():
            return self._versions(number)
        return list(self.database.certificates.find({"number": number}).sort("version", 1))

    def latest_version(self, number: str) -> Document | None:
        if self.filed():
            return next(reversed(self._versions(number)), None)
        found = self.database.certificates.find({"number": number}).sort("version", -1).limit(1)
        return next(iter(found), None)

    def certificate_version(self, number: str, version: int) -> Document | None:
        if self.filed():
            return next((c for c in self._versions(number) if c["version"] == version), None)
        return self.database.certificates.find_one({"number": number, "version": version})

    def advance_certificate(
        self,
        certificate: Document,
        update: Document,
        now: datetime,
        events: Iterable[outbox.Event] = (),
    ) -> Document:
        """Compare-and-set on the certificate's revision; the claim commits ``events``
        (:func:`services.common.claims.advance`; a lost race is a Conflict)."""
        advanced = claims.advance(
            self.database, "certificates", certificate, update, now, events=list(events)
        )
        self._file_days(advanced, city_day(now))  # resumed: its expiry falls due again
        self._list_place(advanced, now)
        return advanced

    # each issuer's status places: what its status list marks, kept as certificates change

    def _list_place(self, certificate: Document, now: datetime) -> None:
        """The certificate's place in its issuer's ``status_places`` as of its revision."""
        entry = [int(certificate.get("rev", 0)), not_valid(certificate)]
        self._merge_places(certificate["issuer"], {place_key(certificate): entry}, now)

    def _merge_places(self, issuer: str, entries: dict[str, list[Any]], now: datetime) -> None:
        """Places ([revision, marked]) into the issuer's ``status_places`` by compare-and-set
        on its document; a revision older than the one written there changes nothing, so
        two changes landing out of order leave the later."""
        for _attempt in range(LISTING_ATTEMPTS):
            held = self.database.status_places.find_one({"_id": issuer})
            if held is None:
                first = {"_id": issuer, "places": entries, "rev": 0}
                if inserted(self.database.status_places, first):
                    return
                continue
            known = held.get("places") or {}
            newer = {k: v for k, v in entries.items() if k not in known or known[k][0] < v[0]}
            if not newer:
                return
            update = {"$set": {f"places.{k}": v for k, v in newer.items()}}
            try:
                claims.advance(self.database, "status_places", held, update, now)
                return
            except Conflict:
                continue
        raise Conflict("the status list changed too often at once; retry")

    def status_places_filed(self) -> bool:
        return self.claimed_once(STATUS_FILED, _STATUS_FILED)

    def file_status_places(self, now: datetime) -> int:
        """Every issuer's status places from its certificates (one scan), merged with what
        changes wrote meanwhile (the later revision stands), then claimed done; how many
        certificates were not valid."""
        if self.status_places_filed():
            return 0
        places: dict[str, dict[str, list[Any]]] = {}
        fields = ["issuer", "status_index", "status", "parts_failing", "rev"]
        for c in self.database.certificates.find({}, fields):
            if not_valid(c):
                places.setdefault(c["issuer"], {})[place_key(c)] = [int(c.get("rev", 0)), True]
        for issuer, found in places.items():
            self._merge_places(issuer, found, now)
        self.claim(STATUS_FILED, now, not_valid=sum(len(f) for f in places.values()))
        return sum(len(f) for f in places.values())

    def held_by(self, subjects: list[str], newest_first: bool = True) -> list[Document]:
        """The current (not superseded) certificates of ``subjects``, by issue time."""
        if self.filed():
            held = [c for s in dict.fromkeys(subjects) for c in self._shelf(s)]
            current = [c for c in held if c["status"] != "superseded"]
            current.sort(key=lambda c: (c["issued_at"], c["_id"]), reverse=newest_first)
            return current[:LISTED]
        found = self.database.certificates.find(
            {"subject": {"$in": subjects}, "status": {"$ne": "superseded"}}
        )
        return list(found.sort("issued_at", -1 if newest_first else 1).limit(LISTED))

    def valid_of_type(self, subject: str, cert_type: str) -> Document | None:
        """The subject's newest certificate of a type whose stored status is valid."""
        if self.filed():
            of_type = [
                c for c in self._shelf(subject) if c["type"] == cert_type and c["status"] == "valid"
            ]
            return max(of_type, key=lambda c: (c["issued_at"], c["_id"]), default=None)
        return self.database.certificates.find_one(
            {"subject": subject, "type": cert_type, "status": "valid"}, sort=[("issued_at", -1)]
        )

    def composites_with_part(self, number: str) -> list[Document]:
        """The composite licences that list certificate ``number`` among their parts (a
        composite bundles its holder's own certificates: it is on the part's shelf)."""
        if self.filed():
            entry = self.database.numbers.find_one({"_id": number}, {"subject": 1})
            shelf = self._shelf(entry["subject"]) if entry else []
            return [c for c in shelf if number in ((c.get("fields") or {}).get("parts") or [])]
        return list(self.database.certificates.find({"fields.parts": number}).limit(LISTED))

    def not_valid_places(self, issuer_id: str) -> list[int]:
        """The status-list places of an issuer's certificates not valid as stored (revoked,
        suspended, superseded, or a composite licence with a part failing): from its status
        places, read by ``_id``, once they are filed."""
        if self.status_places_filed():
            held = self.database.status_places.find_one({"_id": issuer_id}) or {}
            marked = (held.get("places") or {}).items()
            return sorted(int(key[1:]) for key, (_rev, marks) in marked if marks)
        found = self.database.certificates.find(
            {
                "issuer": issuer_id,
                "$or": [{"status": {"$in": list(NOT_VALID)}}, {"parts_failing": True}],
            },
            {"status_index": 1},
        )
        return [int(c["status_index"]) for c in found]

    def due_to_start(self, day: str, limit: int) -> list[Document]:
        """Certificates issued ahead of their first day, which is ``day`` or earlier."""
        if not self.filed():
            return []  # the filing at start files them on their day (a scan here would race it)
        return self._due("start", day, limit, lambda c: bool(c.get("start_pending")))

    def due_to_expire(self, day: str, limit: int) -> list[Document]:
        """Valid certificates whose last day was before ``day``, not yet announced."""
        if not self.filed():
            return []
        return self._due("expiry", day, limit, _expiring)

    def _due(
        self, sweep: str, day: str, limit: int, pending: Callable[[Document], bool]
    ) -> list[Document]:
        """What ``sweep``'s calendar holds up to ``day`` that is still ``pending``, read by
        ``_id``: from the sweep's first day that may hold something, each day's file; an id
        no longer pending (announced, resumed no more, or never written) leaves its file, and
        the first day moves past the files found empty (never past yesterday's)."""
        through = date.fromisoformat(day)
        cursor = self.database.sweeps.find_one({"_id": sweep}) or {}
        first = date.fromisoformat(
            cursor.get("from", (through - timedelta(KEPT_IN_VIEW)).isoformat())
        )
        found: list[Document] = []
        emptied_through = first - timedelta(1)
        moment = first
        while moment <= through and len(found) < limit:
            files = [calendar_shard(sweep, moment.isoformat(), n) for n in range(CALENDAR_SHARDS)]
            emptied = [self._read_file(key, pending, found, limit) for key in files]
            if all(emptied) and emptied_through == moment - timedelta(1):
                emptied_through = moment
            moment += timedelta(1)
        # the first look anchors the sweep, so that days it did not run are read later
        keep = max(first, min(emptied_through + timedelta(1), through - timedelta(KEPT_IN_VIEW)))
        if keep > first or not cursor:
            racing_upsert(
                lambda: self.database.sweeps.update_one(
                    {"_id": sweep}, {"$max": {"from": keep.isoformat()}}, upsert=True
                )
            )
        return found

    def _read_file(
        self, key: str, pending: Callable[[Document], bool], found: list[Document], limit: int
    ) -> bool:
        """Add to ``found`` (up to ``limit``) the certificates of calendar file ``key`` still
        ``pending``; the others leave the file. Whether none of it was pending."""
        ids = (self.database.calendar.find_one({"_id": key}) or {}).get("certificates", [])
        done = []
        for certificate_id in ids:
            certificate = self.load_certificate(certificate_id)
            if certificate is None or not pending(certificate):
                done.append(certificate_id)
            elif len(found) < limit:
                found.append(certificate)
        if done:
            self._listed("calendar", key, "certificates", remove=done)
        return len(done) == len(ids)

    def mark_certificate(self, certificate_id: str, flags: Document) -> None:
        """Flags a sweep sets so it does not find the certificate again (not its state)."""
        self.database.certificates.update_one({"_id": certificate_id}, {"$set": flags})

    # holdings: one valid certificate per (type, holder) of a type held once

    def load_holding(self, key: str) -> Document | None:
        return self.database.holdings.find_one({"_id": key})

    def insert_holding(self, holding: Document) -> bool:
        """False when the holding exists (another issue took it first)."""
        return inserted(self.database.holdings, holding)

    def advance_holding(self, holding: Document, update: Document, now: datetime) -> Document:
        return claims.advance(self.database, "holdings", holding, update, now)

    # applications

    def insert_application(self, application: Document) -> None:
        self.database.applications.insert_one(application)

    def load_application(self, application_id: str) -> Document | None:
        return self.database.applications.find_one({"_id": application_id})

    def open_application(
        self, applicant: str, cert_type: str, open_states: list[str]
    ) -> Document | None:
        return self.database.applications.find_one(
            {"applicant": applicant, "type": cert_type, "status": {"$in": open_states}}
        )

    def applications(self, cert_type: str, status: str | None) -> list[Document]:
        """Applications of a type (in one state), oldest first."""
        query: Document = {"type": cert_type, **({"status": status} if status else {})}
        return list(self.database.applications.find(query).sort("submitted_at", 1))

    def applications_of(self, applicants: list[str], limit: int) -> list[Document]:
        found = self.database.applications.find({"applicant": {"$in": applicants}})
        return list(found.sort("submitted_at", -1).limit(limit))

    def advance_application(
        self, application: Document, update: Document, now: datetime
    ) -> Document:
        return claims.advance(self.database, "applications", application, update, now)

    # presentations and what they disclosed

    def insert_presentation(self, presentation: Document) -> None:
        self.database.presentations.insert_one(presentation)

    def load_presentation(self, presentation_id: str) -> Document | None:
        return self.database.presentations.find_one({"_id": presentation_id})

    def withdraw_presentation(self, presentation_id: str) -> None:
        self.database.presentations.update_one(
            {"_id": presentation_id}, {"$set": {"revoked": True}}
        )

    def record_disclosures(self, disclosures: list[Document]) -> None:
        if disclosures:
            self.database.disclosures.insert_many(disclosures)

    def disclosures_of(self, subjects: list[str], limit: int) -> list[Document]:
        """Who saw the certificates of ``subjects``, newest first (records from before they
        were kept per holder are found by who showed them)."""
        query = {
            "$or": [
                {"subject": {"$in": subjects}},
                {"subject": {"$exists": False}, "holder": {"$in": subjects}},
            ]
        }
        return list(self.database.disclosures.find(query).sort("at", -1).limit(limit))

    def disclosure_counts(self, issuer_id: str) -> list[tuple[str | None, str, int]]:
        """(verifier name, type, count) of what an issuer's certificates disclosed, most
        first."""
        rows = self.database.disclosures.aggregate(
            [
                {"$match": {"issuer": issuer_id}},
                {
                    "$group": {
                        "_id": {"verifier": "$verifier_name", "type": "$type"},
                        "count": {"$sum": 1},
                    }
                },
                {"$sort": {"count": -1}},
            ]
        )
        return [(r["_id"].get("verifier"), r["_id"]["type"], int(r["count"])) for r in rows]
