"""Policy learns a certificate's events in the certificate's order, whatever order they
arrive in (at least once, from two relays): a late ``cert_issued`` after ``cert_revoked``
does not make a revoked certificate valid again; a new version does."""

from __future__ import annotations

import itertools
from typing import Any

import eventlet
import pytest
from pymongo.database import Database

from services.certs import certificates
from services.certs.store import CertsStore
from services.common.codec import utcnow
from services.policy import subjects
from services.policy.store import PolicyStore

Db = Database[dict[str, Any]]


@pytest.fixture
def db(scratch_db: Db) -> Db:
    return scratch_db


def event(status: str, version: int, rev: int, grade: str = "三级") -> dict[str, Any]:
    return {
        "certificate_id": f"cert_{version}",
        "number": "HPCL-2026-K7Q2M9XW4D",
        "type": "disability_certificate",
        "issuer": "iss_hpcl",
        "subject": "p_order",
        "face": {"holder_name": "李秀英", "category": "肢体", "grade": grade},
        "status": status,
        "version": version,
        "rev": rev,
        "valid_until": "2036-11-19",
    }


def learn(db: Db, event_type: str, payload: dict[str, Any]) -> None:
    """As policy's handler of a certificate event does, on ``db``."""
    subjects.learn_certificate(PolicyStore(db), utcnow(), event_type, payload)


def known(db: Db) -> dict[str, Any]:
    document = db.facts.find_one({"_id": "p_order"}) or {}
    return {name: fact["value"] for name, fact in (document.get("values") or {}).items()}


def test_a_late_event_does_not_undo_a_later_one(db: Db) -> None:
    learn(db, "cert_revoked", event("revoked", 1, 1))
    learn(db, "cert_issued", event("valid", 1, 0))  # late
    assert known(db)["cert_disability_certificate"] == "revoked"
    assert "disability_grade" not in known(db)


def test_the_same_event_again_and_a_new_version_are_learnt(db: Db) -> None:
    learn(db, "cert_issued", event("valid", 1, 0))
    learn(db, "cert_issued", event("valid", 1, 0))
    assert known(db)["disability_grade"] == "三级"
    learn(db, "cert_amended", event("valid", 2, 0, "二级"))
    learn(db, "cert_suspended", event("suspended", 1, 1))  # late
    assert known(db)["cert_disability_certificate"] == "valid"
    assert known(db)["disability_grade"] == "二级"


def of(number: str, status: str, rev: int, grade: str, starts: str, subject: str) -> dict[str, Any]:
    return {
        **event(status, 1, rev, grade),
        "certificate_id": f"cert_{number}",
        "number": number,
        "subject": subject,
        "valid_from": starts,
    }


@pytest.mark.parametrize("order", list(itertools.permutations(range(4))))
def test_facts_follow_the_certificate_held_whatever_order_events_of_several_arrive(
    db: Db, order: tuple[int, ...]
) -> None:
    """A revoked certificate, an old one entered for the record and the new one held: the
    facts are the new one's in each of the 24 orders the four events may arrive in."""
    subject = "p_" + "".join(map(str, order))
    events = [
        ("cert_issued", of("HPCL-A", "valid", 0, "三级", "2026-01-01", subject)),
        ("cert_revoked", of("HPCL-A", "revoked", 1, "三级", "2026-01-01", subject)),
        ("cert_issued", of("HPCL-B", "expired", 0, "四级", "2010-01-01", subject)),
        ("cert_issued", of("HPCL-C", "valid", 0, "二级", "2026-11-01", subject)),
    ]
    for i in order:
        learn(db, *events[i])
    document = db.facts.find_one({"_id": subject}) or {}
    facts = {name: fact["value"] for name, fact in (document.get("values") or {}).items()}
    assert facts["cert_disability_certificate"] == "valid"
    assert facts["disability_grade"] == "二级"


def test_two_replicas_learning_at_once_end_with_the_held_certificate(db: Db) -> None:
    """The same four events handled by eight green threads at once, twice over."""
    subject = "p_racing"
    events = [
        ("cert_issued", of("HPCL-A", "valid", 0, "三级", "2026-01-01", subject)),
        ("cert_revoked", of("HPCL-A", "revoked", 1, "三级", "2026-01-01", subject)),
        ("cert_issued", of("HPCL-B", "expired", 0, "四级", "2010-01-01", subject)),
        ("cert_issued", of("HPCL-C", "valid", 0, "二级", "2026-11-01", subject)),
    ]
    pool = eventlet.GreenPool(8)
    for name, payload in events * 2:
        pool.spawn(learn, db, name, payload)
    pool.waitall()
    document = db.facts.find_one({"_id": subject}) or {}
    facts = {name: fact["value"] for name, fact in (document.get("values") or {}).items()}
    assert facts["cert_disability_certificate"] == "valid"
    assert facts["disability_grade"] == "二级"


def test_a_certificate_reaching_its_first_day_is_announced_once_and_then_followed(
    db: Db,
) -> None:
    """Issued ahead of its start it is 'not yet valid' to policy; the certs sweep announces
    the day it starts (once, however often it runs), and policy's facts then say valid."""
    today = utcnow().date().isoformat()
    db.cert_types.insert_one({"_id": "disability_certificate", "face_fields": ["grade"]})
    db.certificates.insert_one(
        {
            "_id": "cert_later",
            "number": "HPCL-LATER",
            "type": "disability_certificate",
            "issuer": "iss_hpcl",
            "subject": "p_later",
            "fields": {"grade": "三级"},
            "salts": {"grade": "c2FsdA"},
            "version": 1,
            "valid_from": today,
            "valid_until": "2031-12-31",
            "status": "valid",
            "status_reason": None,
            "status_index": 7,
            "kid": "k1",
            "signature": "s",
            "issued_at": utcnow(),
            "start_pending": True,
        }
    )
    ahead = {**of("HPCL-LATER", "not_yet_valid", 0, "三级", today, "p_later")}
    learn(db, "cert_issued", ahead)
    assert known_of(db, "p_later")["cert_disability_certificate"] == "not_yet_valid"
    store = CertsStore(db)
    store.file_existing(utcnow())  # written straight into the collection: certs files it at start
    assert [c["id"] for c in certificates.newly_started(store, utcnow())] == ["cert_later"]
    assert certificates.newly_started(store, utcnow()) == []  # announced once
    staged = [e for e in db.outbox.find({}) if e["name"] == "cert_started"]
    assert len(staged) == 1
    learn(db, "cert_started", staged[0]["payload"])
    assert known_of(db, "p_later")["cert_disability_certificate"] == "valid"
    assert known_of(db, "p_later")["disability_grade"] == "三级"


def known_of(db: Db, subject: str) -> dict[str, Any]:
    document = db.facts.find_one({"_id": subject}) or {}
    return {name: fact["value"] for name, fact in (document.get("values") or {}).items()}
