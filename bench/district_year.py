"""A district's year of data, loaded into the suite ``make up`` started, before the figures.

The figures of #17 are taken on a suite that holds what a district's year leaves behind, not
on an empty one (a read that is not by ``_id`` grows with the data, and only data shows it):

* identity: 180,000 persons and 20,000 organisations, registered over the year, spread over
  the demo city's streets and communities; 1,000,000 scans of their codes at the metro and
  bus gates over the year, each after its person registered and in the person's scan days;
* certs: 100,000 certificates of the demo issuers (disability certificates to persons,
  business, food- and drug-trading licences to organisations), 1 % of them revoked, each
  with its status-list place, its request claim, its filing (number and shelf) and, for a
  type held once, its holding;
* tasks: 100,000 supervision tasks dispatched over the year to the district's units, two in
  three finished, the rest in progress with their escalation schedule, and the statistics
  read model folded over all of them.

Every document is built by the service's own code (``register_person``,
``register_organisation``, ``scans.record``, ``certificates.issue``, the statistics fold),
called on stores that keep what those functions write and hand it to the database in bulk
at the end (a year of single inserts would take hours here); what they read (org units,
issuers, the catalogue, the terminals) is read from the suite's databases. The events those
writes would have sent went out long ago: none is staged, so policy does not learn these
subjects (its own figures use its own data, ``bench/policy.py``), and its catch-up with
identity's listing is marked done past the last of them (else it would page through them,
each page a scan of identity's subjects).

Run it with the suite's processes stopped and the backing services up, then start the
suite (``make bench-fixture`` does all three); a second run finds its marker and does
nothing. ``DISTRICT_SCALE`` (default 1) scales every count, for a quick try.

    make up && make bench-fixture
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.database import Database
from pymongo.errors import BulkWriteError

from services.certs import certificates
from services.certs.store import FILED, STATUS_FILED, CertsStore, calendar_key, due_days
from services.common import claims, outbox
from services.common.access import acting_as
from services.common.actor import Actor, ancestors
from services.common.codec import city_day, utcnow
from services.common.config import load_settings
from services.common.crypto import derive_key
from services.common.document import Document
from services.common.mongo import client_for
from services.identity import access as identity_access
from services.identity import scans, subjects
from services.identity.idnumbers import credit_check_character, id_check_character
from services.identity.pii import PiiKeys
from services.identity.store import SCANS_FILED, IdentityStore, scan_days
from services.policy.store import PolicyStore
from services.tasks import ladder, schedule, statsfold
from services.tasks.store import CELLS, FOLDED, FOLDS, QUEUE
from tests.unit.tasks.memory_store import MemoryTaskStore

SCALE = float(os.environ.get("DISTRICT_SCALE", "1"))
PERSONS, ORGANISATIONS = int(180_000 * SCALE), int(20_000 * SCALE)
SCANS, CERTIFICATES, TASKS = int(1_000_000 * SCALE), int(100_000 * SCALE), int(100_000 * SCALE)
CHUNK = 5_000  # documents per bulk insert
MARKER = "bench:district_year"
DISTRICT = "CN-LN-SY/HP"
HOMES = (f"{DISTRICT}/NH/XH", f"{DISTRICT}/NH/SD", f"{DISTRICT}/TYJ/ZS")
RECEIVERS = (f"{DISTRICT}/NH", f"{DISTRICT}/TYJ", *HOMES)
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰"
SYSTEM = Actor(account_id="system:district-year", roles=("admin",), org_path="CN-LN-SY")
# of every 100 certificates: (issuer code, type, share)
CERT_MIX = (
    ("HPCL", "disability_certificate", 60),
    ("HPSJ", "business_licence", 20),
    ("HPSJ", "food_trading_licence", 15),
    ("HPYJ", "drug_trading_licence", 5),
)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def bulk(database: Database[Document], name: str, documents: list[Document]) -> int:
    """Insert in chunks; a document whose unique key is taken (a rerun half done, the demo's
    own) is left out. How many went in."""
    written = 0
    for start in range(0, len(documents), CHUNK):
        chunk = documents[start : start + CHUNK]
        try:
            written += len(database[name].insert_many(chunk, ordered=False).inserted_ids)
        except BulkWriteError as error:
            written += int(error.details.get("nInserted", 0))
    return written


def moment_in_year(rng: random.Random, now: datetime) -> datetime:
    return now - timedelta(seconds=rng.randrange(365 * 86400))


def a_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))


# identity


class KeptIdentity(IdentityStore):
    """identity's store that keeps the subjects and scans written (for one bulk insert each)
    and reads everything else from the database."""

    def __init__(self, database: Database[Document]) -> None:
        super().__init__(database)
        self.kept: dict[str, list[Document]] = {"persons": [], "organisations": [], "scans": []}
        self.subjects: dict[str, Document] = {}
        self.units: dict[str, Document | None] = {}

    def stage_events(self, now: datetime, commit: outbox.Commit, *events: outbox.Event) -> None:
        return None  # sent long ago

    def load_org_unit(self, path: str, fields: Document | None = None) -> Document | None:
        if path not in self.units:
            self.units[path] = super().load_org_unit(path)
        return self.units[path]

    def insert_person(self, person: Document) -> bool:
        self.kept["persons"].append(person)
        self.subjects[person["_id"]] = person
        return True

    def insert_organisation(self, organisation: Document) -> bool:
        self.kept["organisations"].append(organisation)
        self.subjects[organisation["_id"]] = organisation
        return True

    def load_subject(self, sub: str, fields: Document | None = None) -> Document | None:
        return self.subjects.get(sub) or super().load_subject(sub, fields)

    def record_scan(self, scan: Document) -> bool:
        self.kept["scans"].append(scan)
        return True


def id_number(index: int) -> str:
    """Unique resident ID numbers of Heping district (210102), born 1940–2008."""
    born = datetime(1940, 1, 1) + timedelta(days=index % 25_000)
    first17 = f"210102{born:%Y%m%d}{700 + index // 25_000:03d}"
    return first17 + id_check_character(first17)


def credit_code(index: int) -> str:
    first17 = f"91210102MA{index:07d}"
    return first17 + credit_check_character(first17)


def load_identity(database: Database[Document], secret: str, now: datetime) -> list[Document]:
    """Persons, organisations and scans; the subjects' briefs, for the certificates."""
    rng = random.Random(2026)
    store = KeptIdentity(database)
    keys = PiiKeys.from_secret(secret)
    person_guard = acting_as(identity_access.TABLE, "register_person", SYSTEM)
    org_guard = acting_as(identity_access.TABLE, "register_organisation", SYSTEM)
    started = time.monotonic()
    for i in range(PERSONS):
        subjects.register_person(
            store,
            keys,
            person_guard,
            moment_in_year(rng, now),
            a_name(rng),
            id_number(i),
            rng.choice(HOMES),
            phone=f"13{rng.randrange(10**9):09d}",
        )
    for i in range(ORGANISATIONS):
        subjects.register_organisation(
            store,
            keys,
            org_guard,
            moment_in_year(rng, now),
            f"沈阳{a_name(rng)}商贸有限公司",
            credit_code(i),
            rng.choice(RECEIVERS),
        )
    log(f"  {PERSONS:,} persons and {ORGANISATIONS:,} organisations built")
    terminals = [store.account_by_username(name) for name in ("verifier.metro", "verifier.hotel")]
    gates = [t for t in terminals if t is not None]
    persons = [(p["_id"], p["created_at"]) for p in store.kept["persons"]]
    for _ in range(SCANS):
        person, registered = rng.choice(persons)
        at = registered + (now - registered) * rng.random()  # a code exists once registered
        jti = f"{rng.getrandbits(64):016x}"
        scans.record_first_use(store, person, rng.choice(gates), "metro", jti, at)
    log(f"  {SCANS:,} scans built ({time.monotonic() - started:.0f} s)")
    # in their subjects' days, as identity's start-up files them
    store.kept["scan_days"] = list(scan_days(store.kept["scans"]))
    store.kept[claims.CLAIMS] = [{"_id": SCANS_FILED, "at": now, "scans": SCANS}]
    for name, documents in store.kept.items():
        log(f"  {name}: {bulk(database, name, documents):,} written")
    return [subjects.subject_brief(store, sub) for sub in store.subjects]


# certs


class KeptCerts(CertsStore):
    """certs' store that keeps the certificates, holdings and claims an issue writes, and
    hands out status-list places in turn from the issuer's hint."""

    def __init__(self, database: Database[Document]) -> None:
        super().__init__(database)
        self.kept: dict[str, list[Document]] = {
            "certificates": [],
            "holdings": [],
            claims.CLAIMS: [],
        }
        self.places: dict[str, int] = {}
        self.issuer_docs: dict[str, Document | None] = {}

    def stage_events(self, now: datetime, commit: outbox.Commit, *events: outbox.Event) -> None:
        return None  # sent long ago

    def is_claimed(self, key: str) -> bool:
        return False  # every request id of the fixture is new

    def claim(self, key: str, now: datetime, **detail: Any) -> bool:
        self.kept[claims.CLAIMS].append({"_id": key, "at": now, **detail})
        return True

    def load_issuer(self, issuer_id: str, fields: Document | None = None) -> Document | None:
        if issuer_id not in self.issuer_docs:
            self.issuer_docs[issuer_id] = super().load_issuer(issuer_id)
        return self.issuer_docs[issuer_id]

    def take_place(self, issuer_id: str, now: datetime) -> int:
        if issuer_id not in self.places:
            self.places[issuer_id] = self.next_place_hint(issuer_id)
        place = self.places[issuer_id]
        self.places[issuer_id] = place + 1
        key = claims.counter_key(f"status_index:{issuer_id}", place)
        self.kept[claims.CLAIMS].append({"_id": key, "at": now})
        return place

    def load_holding(self, key: str) -> Document | None:
        return None  # each holder gets at most one of a type held once

    def insert_holding(self, holding: Document) -> bool:
        self.kept["holdings"].append(holding)
        return True

    def insert_certificate(self, certificate: Document, claim: str | None = None) -> bool:
        self.kept["certificates"].append(certificate)
        return True


def face_fields(cert_type: str, rng: random.Random, holder: Document) -> Document:
    if cert_type == "disability_certificate":
        return {
            "category": rng.choice(["视力", "肢体", "听力"]),
            "grade": rng.choice(["一级", "二级"]),
        }
    if cert_type == "business_licence":
        return {"legal_representative": a_name(rng), "address": "沈阳市和平区南湖路1号"}
    if cert_type == "food_trading_licence":
        return {"main_business": "食品销售", "scope": "预包装食品"}
    return {"business_mode": "零售", "scope": "中成药、化学药制剂"}


def load_certs(
    database: Database[Document], secret: str, now: datetime, holders: list[Document]
) -> None:
    rng = random.Random(2027)
    store = KeptCerts(database)
    wrap_key = derive_key(secret, "certs-issuer-keys")
    issuers = {i["code"]: i for i in store.issuers()}
    persons = iter([h for h in holders if h["kind"] == "person"])
    organisations = [h for h in holders if h["kind"] == "organisation"]
    orgs_of: dict[str, Iterator[Document]] = {}
    started = time.monotonic()
    for code, cert_type, share in CERT_MIX:
        issuer = issuers.get(code)
        if issuer is None:
            raise SystemExit(f"the demo issuer {code} is missing: run `make up` first")
        count = CERTIFICATES * share // 100
        if cert_type == "disability_certificate":
            chosen: Iterable[Document] = (next(persons) for _ in range(count))
        else:
            orgs_of.setdefault(cert_type, iter(rng.sample(organisations, len(organisations))))
            chosen = (next(orgs_of[cert_type]) for _ in range(min(count, len(organisations))))
        for n, holder in enumerate(chosen):
            at = moment_in_year(rng, now)
            certificates.issue(
                store,
                wrap_key,
                SYSTEM.account_id,
                at,
                holder,
                issuer,
                cert_type,
                face_fields(cert_type, rng, holder),
                f"district-year-{cert_type}-{n}",
            )
    for certificate in store.kept["certificates"]:
        if rng.random() < 0.01:
            certificate.update(status="revoked", status_reason="年度抽样撤销", revoked_at=now)
    seconds = time.monotonic() - started
    log(f"  {len(store.kept['certificates']):,} certificates built ({seconds:.0f} s)")
    shelves: dict[str, list[str]] = {}
    for c in store.kept["certificates"]:
        shelves.setdefault(c["subject"], []).append(c["number"])
    store.kept["numbers"] = [
        {"_id": c["number"], "subject": c["subject"], "versions": [c["_id"]], "rev": 0}
        for c in store.kept["certificates"]
    ]
    store.kept["shelves"] = [{"_id": s, "numbers": n, "rev": 0} for s, n in shelves.items()]
    days: dict[str, list[str]] = {}
    for c in store.kept["certificates"]:
        for sweep, day in due_days(c, city_day(now)):
            days.setdefault(calendar_key(sweep, day, c["_id"]), []).append(c["_id"])
    store.kept["calendar"] = [
        {"_id": key, "certificates": ids, "rev": 0} for key, ids in days.items()
    ]
    # Filed as they were written, so certs' start-up does not file them again (a claim that
    # is there already, certs' own from an empty start, is left out by bulk()).
    filed = len(store.kept["certificates"])
    store.kept[claims.CLAIMS].append({"_id": FILED, "at": now, "certificates": filed})
    for name, documents in store.kept.items():
        log(f"  {name}: {bulk(database, name, documents):,} written")
    for issuer_id, beyond in store.places.items():
        store.raise_next_place(issuer_id, beyond)
    # The revoked ones' status places are filed by certs at its next start (one scan).
    database[claims.CLAIMS].delete_one({"_id": STATUS_FILED})


# tasks


def task(index: int, rng: random.Random, now: datetime) -> tuple[Document, Document | None]:
    """A task of the year, and its schedule entry when it is still open."""
    dispatched = moment_in_year(rng, now)
    receiver = rng.choice(RECEIVERS)
    due = dispatched + timedelta(days=rng.choice([3, 7, 15]))
    document: Document = {
        "_id": f"tk_year{index:08d}",
        "title": rng.choice(["占道经营整治", "噪声扰民核查", "井盖破损修复", "楼道堆物清理"]),
        "level": rng.choice(["normal", "normal", "urgent"]),
        "category": rng.choice(["city_management", "environment", "safety"]),
        "source": rng.choice(["manual", "hotline"]),
        "handling_type": "standard",
        "dispatcher": DISTRICT,
        "receiver": receiver,
        "holders": [receiver],
        "held_within": ancestors(receiver),
        "reach": ancestors(receiver),
        "status": "in_progress",
        "rev": 1,
        "deadline": 1,
        "card": "none",
        "cards": [],
        "rolled_back_by": [],
        "urges": 0,
        "started_at": dispatched,
        "due_at": due,
        "dispatched_at": dispatched,
        "created_at": dispatched,
    }
    if rng.random() < 2 / 3 or due < now:
        done = dispatched + timedelta(hours=rng.randrange(1, 24 * 20))
        document.update(
            status="archived",
            completed_at=min(done, now),
            on_time=done <= due,
            working_minutes=float(rng.randrange(60, 6000)),
            rev=4,
        )
        return document, None
    rung = ladder.Rung("warning", due - timedelta(days=1))
    document.update(ladder=[{"card": rung.card, "at": rung.at}], next_escalation_at=rung.at)
    entry = {
        "_id": f"{document['_id']}:1:warning",
        "task": document["_id"],
        "deadline": 1,
        "card": "warning",
        "at": rung.at,
    }
    return document, entry


def load_tasks(database: Database[Document], now: datetime) -> None:
    """The tasks, their schedule, and the statistics read model over them and the suite's
    own tasks, folded in memory by the service's fold and written whole."""
    rng = random.Random(2028)
    started = time.monotonic()
    built = [task(i, rng, now) for i in range(TASKS)]
    log(f"  {bulk(database, 'tasks', [t for t, _ in built]):,} tasks written")
    entries: dict[str, list[Document]] = {}
    for _, entry in built:
        if entry is not None:
            entries.setdefault(schedule.bucket(max(entry["at"], now)), []).append(entry)
    for bucket, items in entries.items():
        bulk(database, bucket, items)
    memory = MemoryTaskStore()
    for document in database.tasks.find({}):
        memory._put("tasks", document)
    statsfold.reconcile(memory)
    folded = statsfold.fold_all(memory)
    seconds = time.monotonic() - started
    log(f"  read model folded over {folded:,} tasks in memory ({seconds:.0f} s)")
    for name, memory_name in (
        (CELLS, "stats_cells"),
        (FOLDED, "stats_folded"),
        (FOLDS, "stats_folds"),
    ):
        database.drop_collection(name)
        bulk(database, name, list(memory.collections.get(memory_name, {}).values()))
    database.drop_collection(QUEUE)


def main() -> None:
    settings = load_settings(os.environ)
    secret = settings.SECRET_KEY.get_secret_value()
    client = client_for(settings.MONGO_URL)
    now = utcnow()
    identity = client[settings.database_name("identity")]
    if identity[claims.CLAIMS].find_one({"_id": MARKER}) is not None:
        log("the district's year is loaded already")
        return
    started = time.monotonic()
    log("identity")
    holders = load_identity(identity, secret, now)
    log("certs")
    load_certs(client[settings.database_name("certs")], secret, now, holders)
    log("tasks")
    load_tasks(client[settings.database_name("tasks")], now)
    last = max(h["id"] for h in holders)
    PolicyStore(client[settings.database_name("policy")]).move_subjects_cursor(last, True)
    identity[claims.CLAIMS].insert_one({"_id": MARKER, "at": now.astimezone(UTC)})
    figures = {
        "persons": PERSONS,
        "organisations": ORGANISATIONS,
        "scans": SCANS,
        "certificates": CERTIFICATES,
        "tasks": TASKS,
        "load_seconds": round(time.monotonic() - started, 1),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
