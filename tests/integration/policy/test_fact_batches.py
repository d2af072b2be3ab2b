"""A fact batch on the real database: uploaded again it answers with its first report, while
it runs it says so, and a batch whose worker stopped (or failed midway) never stays in
progress: the next upload after a while, or at once after a failure, runs it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pymongo.database import Database

from services.common.codec import utcnow
from services.policy import facts
from services.policy.store import PolicyStore

Db = Database[dict[str, Any]]


@pytest.fixture
def db(scratch_db: Db) -> PolicyStore:
    return PolicyStore(scratch_db)


def test_a_batch_is_run_once_and_never_left_in_progress(db: PolicyStore) -> None:
    now = utcnow()
    assert facts.claim_batch(db, now, "partner:feed", "b-1") is None  # the first runs it
    running = facts.claim_batch(db, now, "partner:feed", "b-1")
    assert running is not None
    assert running["status"] == "in_progress"
    later = now + facts.BATCH_STUCK_AFTER + timedelta(seconds=1)
    assert facts.claim_batch(db, later, "partner:feed", "b-1") is None  # its worker stopped
    assert facts.claim_batch(db, later, "partner:feed", "b-1") == running  # taken over once
    report = {"batch_id": "b-1", "source": "partner:feed", "applied": 3, "errors": []}
    facts.record_batch(db, later, "partner:feed", "b-1", report)
    assert facts.claim_batch(db, later, "partner:feed", "b-1") == report

    assert facts.claim_batch(db, now, "partner:feed", "b-2") is None
    facts.release_batch(db, "partner:feed", "b-2")  # it failed midway
    assert facts.claim_batch(db, now, "partner:feed", "b-2") is None  # runs again at once
