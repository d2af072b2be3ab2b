"""Policy learns a certificate's events in the certificate's order, whatever order they
arrive in (at least once, from two relays): a late ``cert_issued`` after ``cert_revoked``
does not make a revoked certificate valid again; a new version does."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pymongo
import pytest
from pymongo.database import Database

from services.common.codec import utcnow
from services.policy import subjects
from tests.conftest import MONGO_URL

Db = Database[dict[str, Any]]


@pytest.fixture
def db() -> Iterator[Db]:
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(MONGO_URL, tz_aware=True)
    name = f"it_order_{uuid.uuid4().hex[:8]}"
    yield client[name]
    client.drop_database(name)
    client.close()


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


def known(db: Db) -> dict[str, Any]:
    document = db.facts.find_one({"_id": "p_order"}) or {}
    return {name: fact["value"] for name, fact in (document.get("values") or {}).items()}


def test_a_late_event_does_not_undo_a_later_one(db: Db) -> None:
    subjects.learn_certificate(db, utcnow(), "cert_revoked", event("revoked", 1, 1))
    subjects.learn_certificate(db, utcnow(), "cert_issued", event("valid", 1, 0))  # late
    assert known(db)["cert_disability_certificate"] == "revoked"
    assert "disability_grade" not in known(db)


def test_the_same_event_again_and_a_new_version_are_learnt(db: Db) -> None:
    subjects.learn_certificate(db, utcnow(), "cert_issued", event("valid", 1, 0))
    subjects.learn_certificate(db, utcnow(), "cert_issued", event("valid", 1, 0))
    assert known(db)["disability_grade"] == "三级"
    subjects.learn_certificate(db, utcnow(), "cert_amended", event("valid", 2, 0, "二级"))
    subjects.learn_certificate(db, utcnow(), "cert_suspended", event("suspended", 1, 1))  # late
    assert known(db)["cert_disability_certificate"] == "valid"
    assert known(db)["disability_grade"] == "二级"
