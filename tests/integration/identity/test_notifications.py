"""Texts to subjects on the real database: one text per pushed message however often the
event arrives, retried with backoff and then given up, an organisation texted through its
legal representative, each text sent recorded as a disclosure of the phone number."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import eventlet
import pymongo
import pytest

from services.common.document import Document
from services.identity import notifications
from services.identity.pii import PiiKeys
from services.identity.store import IdentityStore
from tests.conftest import MONGO_URL

KEYS = PiiKeys.from_secret("notifications-test-secret")
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


@pytest.fixture
def store() -> Iterator[IdentityStore]:
    client: pymongo.MongoClient[Document] = pymongo.MongoClient(MONGO_URL, tz_aware=True)
    name = f"it_sms_{uuid.uuid4().hex[:8]}"
    try:
        yield IdentityStore(client[name])
    finally:
        client.drop_database(name)
        client.close()


class Handset:
    """Records what the SMS partner was asked; fails the first ``failures`` requests."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.asked: list[tuple[str, str, str]] = []

    def __call__(self, key: str, phone: str, text: str) -> tuple[bool, str]:
        self.asked.append((key, phone, text))
        if len(self.asked) <= self.failures:
            return False, "SMS partner answered 503"
        return True, f"sms_{len(self.asked)}"


def person(store: IdentityStore, sub: str, phone: str | None) -> None:
    protected = KEYS.protect(phone, f"person:{sub}:phone", keep=(3, 4)) if phone else None
    store.database.persons.insert_one({"_id": sub, "name": "测试", "phone": protected})


def notice(subject: str, message: str = "m1") -> dict[str, Any]:
    return {
        "message_id": f"rd:v1:{subject}:{message}",
        "subject": subject,
        "title": "研发费用补助",
        "department": "区市场监管局",
        "mode": "confirm",
        "amount": 123457,
    }


def test_a_message_delivered_twice_is_texted_once_and_disclosed_once(
    store: IdentityStore,
) -> None:
    person(store, "p_a", "13800000001")
    handset = Handset()
    first = notifications.queue_policy_push(store, NOW, notice("p_a"))
    again = notifications.queue_policy_push(store, NOW, notice("p_a"))
    assert first is not None
    assert again is None
    assert notifications.deliver(store, KEYS, NOW, first, handset) == "sent"
    assert notifications.deliver(store, KEYS, NOW, first, handset) == "pending"  # not again
    assert notifications.deliver_due(store, KEYS, NOW + timedelta(days=1), handset) == 0
    assert [(k, p) for k, p, _ in handset.asked] == [(first, "13800000001")]
    assert "1234.57 元" in handset.asked[0][2]
    assert "确认领取" in handset.asked[0][2]
    stored = store.database.notifications.find_one({"_id": first})
    assert stored is not None
    assert stored["to"] == "138****0001"
    assert (
        store.database.disclosures.count_documents({"principal": "p_a", "fields": ["phone"]}) == 1
    )


def test_a_failing_partner_is_retried_with_backoff_then_given_up(store: IdentityStore) -> None:
    person(store, "p_b", "13800000002")
    handset = Handset(failures=100)
    queued = notifications.queue_policy_push(store, NOW, notice("p_b"))
    assert queued is not None
    assert notifications.deliver(store, KEYS, NOW, queued, handset) == "pending"
    assert notifications.deliver_due(store, KEYS, NOW + timedelta(seconds=5), handset) == 0
    assert len(handset.asked) == 1  # not before its retry time
    at = NOW
    for wait in notifications.RETRY_AFTER_S:
        at += timedelta(seconds=wait)
        notifications.deliver_due(store, KEYS, at, handset)
    stored = store.database.notifications.find_one({"_id": queued})
    assert stored is not None
    assert stored["state"] == "failed"
    assert len(handset.asked) == len(notifications.RETRY_AFTER_S) + 1
    assert store.database.disclosures.count_documents({}) == 0


def test_a_retry_that_succeeds_sends_the_same_key(store: IdentityStore) -> None:
    person(store, "p_c", "13800000003")
    handset = Handset(failures=1)
    queued = notifications.queue_policy_push(store, NOW, notice("p_c"))
    assert queued is not None
    notifications.deliver(store, KEYS, NOW, queued, handset)
    later = NOW + timedelta(seconds=notifications.RETRY_AFTER_S[0])
    assert notifications.deliver_due(store, KEYS, later, handset) == 1
    assert {k for k, _, _ in handset.asked} == {queued}  # the partner dedupes on it


def test_an_organisation_is_texted_through_its_legal_representative(
    store: IdentityStore,
) -> None:
    person(store, "p_rep", "13800000004")
    store.database.organisations.insert_one({"_id": "o_x", "legal_representative": "p_rep"})
    store.database.organisations.insert_one({"_id": "o_y", "legal_representative": None})
    person(store, "p_nophone", None)
    handset = Handset()
    for subject, state in (("o_x", "sent"), ("o_y", "no_phone"), ("p_nophone", "no_phone")):
        queued = notifications.queue_policy_push(store, NOW, notice(subject))
        assert queued is not None
        assert notifications.deliver(store, KEYS, NOW, queued, handset) == state
    assert [p for _, p, _ in handset.asked] == ["13800000004"]
    assert store.database.disclosures.find_one({"principal": "p_rep"}) is not None


def test_replicas_delivering_at_the_same_moment_text_once(store: IdentityStore) -> None:
    """Eight replicas find the same text due at once: one sends it, whatever the engine."""
    for n in range(5):
        person(store, f"p_race{n}", f"1380000010{n}")
        queued = notifications.queue_policy_push(store, NOW, notice(f"p_race{n}"))
        assert queued is not None
        handset = Handset()
        with eventlet.Timeout(60):
            replicas = [(store, KEYS, NOW, queued, handset)] * 8
            states = list(eventlet.GreenPool(8).starmap(notifications.deliver, replicas))
        assert len(handset.asked) == 1, (n, states)
        assert states.count("sent") == 1


def test_a_replica_that_died_holding_a_text_leaves_it_to_the_next_after_the_lease(
    store: IdentityStore,
) -> None:
    person(store, "p_dead", "13800000009")
    queued = notifications.queue_policy_push(store, NOW, notice("p_dead"))
    assert queued is not None

    def dies(key: str, phone: str, text: str) -> tuple[bool, str]:
        raise SystemExit("the replica died while sending")

    with pytest.raises(SystemExit):
        notifications.deliver(store, KEYS, NOW, queued, dies)
    handset = Handset()
    assert notifications.deliver_due(store, KEYS, NOW + timedelta(seconds=30), handset) == 0
    assert notifications.deliver_due(store, KEYS, NOW + notifications.LEASE, handset) == 1
    assert [k for k, _, _ in handset.asked] == [queued]  # the same key: the partner dedupes
