"""Every method of certs' store on the real database (FerretDB here), each test in a
database of its own with certs' indexes, as the service creates them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import eventlet
import pymongo
import pytest
from pymongo.errors import PyMongoError

from services.certs import store as store_module
from services.certs.store import CALENDAR_SHARDS, INDEXES, CertsStore, calendar_shard
from services.common import claims, outbox, signing_keys
from services.common.document import Document
from services.common.errors import Conflict
from services.common.mongo import ensure_indexes
from tests.conftest import MONGO_URL

NOW = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)


@contextmanager
def fresh_store() -> Iterator[CertsStore]:
    client: pymongo.MongoClient[Document] = pymongo.MongoClient(MONGO_URL, tz_aware=True)
    name = f"it_certs_store_{uuid.uuid4().hex[:8]}"
    try:
        ensure_indexes(client[name], INDEXES)
        yield CertsStore(client[name])
    finally:
        client.drop_database(name)
        client.close()


@pytest.fixture(params=["scanned", "filed"])
def store(request: pytest.FixtureRequest) -> Iterator[CertsStore]:
    """Each test twice: on a database whose certificates are not filed yet (the readers
    scan, as on a database from before the filing, until its start-up seed ran) and on one
    filed (the readers go by ``_id``)."""
    with fresh_store() as store:
        if request.param == "filed":
            assert store.file_existing(NOW) == 0
            assert store.file_status_places(NOW) == 0
            assert store.filed()
            assert store.status_places_filed()
        yield store


def ids(documents: list[Document]) -> list[Any]:
    return [d["_id"] for d in documents]


def certificate(cid: str, **fields: Any) -> Document:
    return {
        "_id": cid,
        "number": f"N-{cid}",
        "version": 1,
        "issuer": "iss_a",
        "request_id": f"r-{cid}",
        "status_index": int(cid.rsplit("_", 1)[-1]),
        "subject": "p_1",
        "type": "t",
        "status": "valid",
        "fields": {},
        "issued_at": NOW,
        **fields,
    }


def test_claims_counters_events_and_the_wallet_ring(store: CertsStore) -> None:
    assert not store.is_claimed("issue:iss_a:r1")
    assert store.claim("issue:iss_a:r1", NOW, certificate_id="cert_1")
    assert not store.claim("issue:iss_a:r1", NOW, certificate_id="cert_2")
    assert store.is_claimed("issue:iss_a:r1")
    store.repoint_claim("issue:iss_a:r1", certificate_id="cert_9")
    assert (store.claimed("issue:iss_a:r1") or {})["certificate_id"] == "cert_9"
    store.release_claim("issue:iss_a:r1")
    assert store.claimed("issue:iss_a:r1") is None
    assert [store.take_next("status_index:iss_a", 5, NOW) for _ in range(2)] == [5, 6]

    store.stage_events(
        NOW,
        outbox.Commit("certificates", "cert_1"),
        outbox.Event("cert_issued", "cert_issued:cert_1:rev0", {"id": "cert_1"}),
    )
    sent: list[str] = []
    outbox.relay(store.database, lambda name, _body: sent.append(name), NOW)
    assert sent == []  # the certificate is not written: the event waits
    assert store.insert_certificate(certificate("cert_1"))
    outbox.relay(store.database, lambda name, _body: sent.append(name), NOW + timedelta(seconds=5))
    assert sent == ["cert_issued"]

    ring = store.wallet_keys()
    signing_keys.signer(ring, b"k" * 32, NOW)
    assert len(ring.documents()) == 1


def test_types_and_issuers(store: CertsStore) -> None:
    store.put_cert_type({"_id": "part", "names": {"zh": "甲"}})
    store.put_cert_type({"_id": "bundle", "sub_types": ["part", "other"]})
    store.put_cert_type({"_id": "part", "names": {"zh": "乙"}})  # a release updates it
    assert (store.load_cert_type("part") or {})["names"] == {"zh": "乙"}
    assert store.load_cert_type("nothing") is None
    assert ids(store.cert_types()) == ["bundle", "part"]
    assert ids(store.composite_types_of("part")) == ["bundle"]
    assert store.composite_types_of("bundle") == []

    assert store.insert_issuer({"_id": "iss_b", "code": "B", "types": ["part"], "org_path": "X"})
    assert store.insert_issuer({"_id": "iss_a", "code": "A", "types": ["t"], "org_path": "Y"})
    assert not store.insert_issuer({"_id": "iss_c", "code": "A", "types": [], "org_path": "Z"})
    assert ids(store.issuers()) == ["iss_a", "iss_b"]
    assert store.issuers({"org_path": 1})[0] == {"_id": "iss_a", "org_path": "Y"}
    assert ids(store.issuers_of_type("part")) == ["iss_b"]
    assert (store.load_issuer("iss_b", {"code": 1}) or {}) == {"_id": "iss_b", "code": "B"}
    assert store.next_place_hint("iss_a") == 0
    store.raise_next_place("iss_a", 7)
    store.raise_next_place("iss_a", 3)  # a late writer never lowers it
    assert store.next_place_hint("iss_a") == 7


def test_certificates_their_versions_and_sweeps(store: CertsStore) -> None:
    assert store.insert_certificate(certificate("cert_1"))
    assert not store.insert_certificate(certificate("cert_2", request_id="r-cert_1"))
    assert not store.insert_certificate(certificate("cert_3", number="N-cert_1"))
    newer = certificate("cert_4", number="N-cert_1", version=2, issued_at=NOW + timedelta(2))
    assert store.insert_certificate(newer)
    assert ids(store.versions_of("N-cert_1")) == ["cert_1", "cert_4"]
    assert (store.latest_version("N-cert_1") or {})["_id"] == "cert_4"
    assert store.latest_version("N-none") is None
    assert (store.certificate_version("N-cert_1", 1) or {})["_id"] == "cert_1"
    assert (store.certificate_of_request("iss_a", "r-cert_4") or {})["_id"] == "cert_4"
    assert (store.load_certificate("cert_1") or {})["number"] == "N-cert_1"

    held = store.load_certificate("cert_1")
    assert held is not None
    changed = store.advance_certificate(
        held,
        {"$set": {"status": "superseded"}},
        NOW,
        [outbox.Event("cert_amended", "cert_amended:cert_4:rev1", {"id": "cert_4"})],
    )
    assert (changed["status"], changed["rev"]) == ("superseded", 1)
    with pytest.raises(Conflict):  # the revision read is no longer the stored one
        store.advance_certificate(held, {"$set": {"status": "revoked"}}, NOW)

    assert ids(store.held_by(["p_1"])) == ["cert_4"]  # superseded versions are not held
    store.insert_certificate(certificate("cert_5", subject="p_2", issued_at=NOW))
    store.insert_certificate(certificate("cert_6", subject="p_2", issued_at=NOW + timedelta(1)))
    assert ids(store.held_by(["p_2", "p_1"])) == ["cert_4", "cert_6", "cert_5"]
    assert ids(store.held_by(["p_2"], newest_first=False)) == ["cert_5", "cert_6"]
    assert (store.valid_of_type("p_2", "t") or {})["_id"] == "cert_6"
    assert store.valid_of_type("p_3", "t") is None

    bundle = certificate(
        "cert_7", subject="p_2", type="bundle", fields={"parts": ["N-cert_5", "N-cert_6"]}
    )
    store.insert_certificate(bundle)
    assert ids(store.composites_with_part("N-cert_6")) == ["cert_7"]
    assert store.composites_with_part("N-cert_4") == []

    store.insert_certificate(certificate("cert_8", status="revoked"))
    store.insert_certificate(certificate("cert_9", parts_failing=True))
    assert sorted(store.not_valid_places("iss_a")) == [1, 8, 9]  # superseded, revoked, failing
    store.file_status_places(NOW)  # (the filed run filed them at the start)
    assert store.status_places_filed()
    assert sorted(store.not_valid_places("iss_a")) == [1, 8, 9]
    nine = store.load_certificate("cert_9")
    assert nine is not None
    store.advance_certificate(nine, {"$set": {"parts_failing": False}}, NOW)  # its part mended
    assert sorted(store.not_valid_places("iss_a")) == [1, 8]
    assert store.not_valid_places("iss_none") == []

    store.insert_certificate(
        certificate(
            "cert_10", start_pending=True, valid_from="2026-12-02", valid_until="2027-01-01"
        )
    )
    store.insert_certificate(
        certificate(
            "cert_11", start_pending=True, valid_from="2026-12-03", valid_until="2027-01-01"
        )
    )
    store.insert_certificate(certificate("cert_12", valid_until="2026-12-01"))
    if not store.filed():  # the sweeps wait for the filing rather than scan
        assert store.due_to_start("2026-12-02", 10) == []
        assert store.due_to_expire("2026-12-02", 10) == []
        store.file_existing(NOW)
    assert ids(store.due_to_start("2026-12-02", 10)) == ["cert_10"]
    assert ids(store.due_to_expire("2026-12-02", 10)) == ["cert_12"]
    store.mark_certificate("cert_10", {"start_pending": False})
    store.mark_certificate("cert_12", {"expiry_announced": True})
    assert store.due_to_start("2026-12-02", 10) == []
    assert store.due_to_expire("2026-12-02", 10) == []

    # a certificate suspended past its last day is announced as expired once resumed
    lapsing = certificate("cert_13", valid_until="2026-12-05")
    store.insert_certificate(lapsing)
    suspended = store.advance_certificate(lapsing, {"$set": {"status": "suspended"}}, NOW)
    assert store.due_to_expire("2026-12-08", 10) == []
    store.advance_certificate(suspended, {"$set": {"status": "valid"}}, NOW + timedelta(9))
    assert ids(store.due_to_expire("2026-12-11", 10)) == ["cert_13"]
    store.mark_certificate("cert_13", {"expiry_announced": True})
    assert store.due_to_expire("2026-12-20", 10) == []
    # one issued after its last day (backdated) falls due at once, however late the sweep
    store.insert_certificate(
        certificate("cert_14", valid_until="2026-11-01", issued_at=NOW + timedelta(20))
    )
    assert ids(store.due_to_expire("2026-12-22", 10)) == ["cert_14"]
    assert ids(store.due_to_expire("2026-12-30", 1)) == ["cert_14"]  # until it is announced

    store.delete_certificate("cert_12")
    assert store.load_certificate("cert_12") is None


def test_certificates_from_before_the_filing_are_filed_at_start() -> None:
    """Certificates written straight into the collection (by a version before the filing)
    are found by ``_id`` once filed; a refused version and an undone one leave no id."""
    with fresh_store() as store:
        files_the_older_ones(store)


def files_the_older_ones(store: CertsStore) -> None:
    lapsed = {"valid_until": "2026-11-30"}  # and fell due before the filing: due at once
    older = [certificate("cert_1"), certificate("cert_2", number="N-cert_1", version=2, **lapsed)]
    store.database.certificates.insert_many(older)
    store.insert_certificate(certificate("cert_3", subject="p_2"))
    assert store.file_existing(NOW) == 3
    assert store.filed()
    assert store.file_existing(NOW) == 0  # once
    assert ids(store.due_to_expire("2026-12-02", 10)) == ["cert_2"]
    assert ids(store.versions_of("N-cert_1")) == ["cert_1", "cert_2"]
    assert ids(store.held_by(["p_1", "p_2"])) == ["cert_3", "cert_2", "cert_1"]
    assert not store.insert_certificate(certificate("cert_4", number="N-cert_1"))  # v1 taken
    assert store.insert_certificate(certificate("cert_5", number="N-cert_1", version=3))
    store.delete_certificate("cert_5")  # an amendment undone
    entry = store.database.numbers.find_one({"_id": "N-cert_1"}) or {}
    assert sorted(entry["versions"]) == ["cert_1", "cert_2"]
    assert (store.latest_version("N-cert_1") or {})["_id"] == "cert_2"
    assert (store.certificate_version("N-cert_1", 1) or {})["_id"] == "cert_1"


def test_a_failed_certificate_write_frees_the_request(store: CertsStore) -> None:
    assert store.claim("issue:iss_a:r9", NOW, certificate_id="cert_1")
    with pytest.raises(PyMongoError):  # a document the database refuses (a key with a dot)
        store.insert_certificate({**certificate("cert_1"), "$bad": 1}, claim="issue:iss_a:r9")
    assert not store.is_claimed("issue:iss_a:r9")


def test_holdings(store: CertsStore) -> None:
    assert store.load_holding("t:p_1") is None
    assert store.insert_holding({"_id": "t:p_1", "number": "N-1", "at": NOW, "rev": 0})
    assert not store.insert_holding({"_id": "t:p_1", "number": "N-2", "at": NOW, "rev": 0})
    held = store.load_holding("t:p_1")
    assert held is not None
    moved = store.advance_holding(held, {"$set": {"number": "N-2"}}, NOW)
    assert moved["number"] == "N-2"
    with pytest.raises(Conflict):
        store.advance_holding(held, {"$set": {"number": "N-3"}}, NOW)


def test_applications(store: CertsStore) -> None:
    def application(aid: str, applicant: str, status: str, minutes: int) -> Document:
        at = NOW + timedelta(minutes=minutes)
        return {"_id": aid, "type": "t", "applicant": applicant, "status": status,
                "submitted_at": at, "steps": []}  # fmt: skip

    store.insert_application(application("app_1", "p_1", "rejected", 0))
    store.insert_application(application("app_2", "p_1", "reviewed", 1))
    store.insert_application(application("app_3", "p_2", "submitted", 2))
    assert (store.load_application("app_2") or {})["status"] == "reviewed"
    assert (store.open_application("p_1", "t", ["submitted", "reviewed"]) or {})["_id"] == "app_2"
    assert store.open_application("p_1", "t", ["submitted"]) is None
    assert ids(store.applications("t", None)) == ["app_1", "app_2", "app_3"]
    assert ids(store.applications("t", "submitted")) == ["app_3"]
    assert store.applications("other", None) == []
    assert ids(store.applications_of(["p_1"], 1)) == ["app_2"]
    found = store.load_application("app_3")
    assert found is not None
    moved = store.advance_application(found, {"$set": {"status": "reviewed"}}, NOW)
    assert moved["status"] == "reviewed"
    with pytest.raises(Conflict):
        store.advance_application(found, {"$set": {"status": "rejected"}}, NOW)


def test_presentations_and_disclosures(store: CertsStore) -> None:
    store.insert_presentation({"_id": "jti_1", "holders": ["p_1"], "revoked": False})
    assert (store.load_presentation("jti_1") or {})["revoked"] is False
    store.withdraw_presentation("jti_1")
    assert (store.load_presentation("jti_1") or {})["revoked"] is True
    assert store.load_presentation("jti_2") is None

    store.record_disclosures([])  # nothing shown: nothing written

    def seen(did: str, subject: str, verifier: str, minutes: int) -> Document:
        return {"_id": did, "subject": subject, "issuer": "iss_a", "type": "t",
                "verifier_name": verifier, "at": NOW + timedelta(minutes=minutes)}  # fmt: skip

    store.record_disclosures([seen("d1", "p_1", "医院", 0), seen("d2", "p_1", "医院", 1)])
    store.record_disclosures([seen("d3", "p_2", "地铁", 2)])
    # a record from before disclosures were kept per holder: found by who showed it
    store.record_disclosures([{"_id": "d0", "holder": "p_1", "issuer": "iss_b", "at": NOW}])
    assert ids(store.disclosures_of(["p_1"], 10)) == ["d2", "d1", "d0"]
    assert ids(store.disclosures_of(["p_1"], 1)) == ["d2"]
    assert store.disclosure_counts("iss_a") == [("医院", "t", 2), ("地铁", "t", 1)]
    assert store.disclosure_counts("iss_c") == []


def test_status_list_places_are_each_taken_once(
    store: CertsStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.insert_issuer({"_id": "iss_a", "code": "A", "types": ["t"], "org_path": "Y"})
    store.take_next("status_index:iss_a", 0, NOW)  # place 0 taken by another process
    tried: list[str] = []
    real_claim = claims.claim

    def counted(db: Any, key: str, now: datetime, **detail: Any) -> bool:
        tried.append(key)
        return real_claim(db, key, now, **detail)

    monkeypatch.setattr(claims, "claim", counted)
    with ThreadPoolExecutor(16) as pool:
        places = list(pool.map(lambda _: store.take_place("iss_a", NOW), range(48)))
    assert sorted(places) == list(range(1, 49))  # each once, none skipped in this process
    # 48 places for 49 tries: only the place another process held was tried in vain (when
    # each started from the stored hint, 48 at once tried about 48 × 48 / 2)
    assert len(tried) == 49
    # the stored hint only grows, but FerretDB's $max under concurrency may lag behind
    assert 1 <= store.next_place_hint("iss_a") <= 49
    other = CertsStore(store.database.client[store.database.name])  # same process, same list
    assert other.take_place("iss_a", NOW) == 49
    monkeypatch.setattr(store_module, "_NEXT_PLACE", {})  # a process that starts now
    assert store.take_place("iss_a", NOW) == 50  # from the hint, past the places taken


def test_the_catalogue_read_once_is_renewed_by_a_seed(store: CertsStore) -> None:
    store.put_cert_type({"_id": "t", "names": {"zh": "甲"}})
    assert (store.load_cert_type("t") or {})["names"] == {"zh": "甲"}
    store.put_cert_type({"_id": "t", "names": {"zh": "乙"}})
    assert (store.load_cert_type("t") or {})["names"] == {"zh": "乙"}


def test_certificates_issued_at_once_are_all_filed(store: CertsStore) -> None:
    """Twenty certificates of one holder, all expiring on one day, written at once: each is
    on the holder's shelf and in the day's file (FerretDB loses racing updates in place)."""

    def write(n: int) -> bool:
        return store.insert_certificate(certificate(f"cert_{n}", valid_until="2027-06-30"))

    with eventlet.Timeout(120):
        written = list(eventlet.GreenPool(20).imap(write, range(20, 40)))
    assert all(written)
    if store.filed():
        assert len(store.held_by(["p_1"])) == 20
    day = [
        d
        for shard in range(CALENDAR_SHARDS)
        for d in (
            store.database.calendar.find_one({"_id": calendar_shard("expiry", "2027-07-01", shard)})
            or {}
        ).get("certificates", [])
    ]
    assert sorted(day) == sorted(f"cert_{n}" for n in range(20, 40))


def test_the_start_up_filing_adds_to_what_live_writes_filed() -> None:
    """Certificates from before the filing, and one a live process wrote meanwhile on the
    same shelf and the same day: the filing inserts what nobody wrote and adds to the rest,
    so the live one stays filed."""
    with fresh_store() as store:
        older = [certificate(f"cert_{n}", valid_until="2027-06-30") for n in (50, 51)]
        store.database.certificates.insert_many(older)
        assert store.insert_certificate(certificate("cert_52", valid_until="2027-06-30"))
        assert store.file_existing(NOW) == 3
        assert store.filed()
        assert sorted(ids(store.held_by(["p_1"]))) == ["cert_50", "cert_51", "cert_52"]
        due = ids(store.due_to_expire("2027-07-01", 10))
        assert sorted(due) == ["cert_50", "cert_51", "cert_52"]
