"""Every method of identity's store on the real database (FerretDB here), each in a database
of its own with identity's indexes, as the service creates them; and the same checks on the
in-memory store the unit tests use, so the two cannot drift apart."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import eventlet
import pymongo
import pytest

from services.common import outbox, signing_keys
from services.common.actor import ancestors
from services.common.document import Document
from services.common.mongo import ensure_indexes
from services.identity import store as store_module
from services.identity.store import INDEXES, IdentityStore
from tests.conftest import MONGO_URL
from tests.unit.identity.memory_store import MemoryIdentityStore

NOW = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
SECOND = timedelta(seconds=1)


@pytest.fixture
def store() -> Iterator[IdentityStore]:
    client: pymongo.MongoClient[Document] = pymongo.MongoClient(MONGO_URL, tz_aware=True)
    name = f"it_identity_store_{uuid.uuid4().hex[:8]}"
    try:
        ensure_indexes(client[name], INDEXES)
        yield IdentityStore(client[name])
    finally:
        client.drop_database(name)
        client.close()


@pytest.fixture(params=["database", "filed", "memory"])
def either(request: pytest.FixtureRequest, store: IdentityStore) -> IdentityStore:
    """The real store before its scans are filed in scan days (the history read by a query),
    once filed (read from the days by ``_id``), and the in-memory one."""
    if request.param == "filed":
        assert store.file_scans(NOW) == 0
        assert store.scans_filed()
    return store if request.param != "memory" else MemoryIdentityStore()


def ids(documents: list[Document]) -> list[Any]:
    return [d["_id"] for d in documents]


def test_claims_counters_events_and_key_rings(store: IdentityStore) -> None:
    assert store.claim("login:p_1", NOW, account="acc_1")
    assert not store.claim("login:p_1", NOW, account="acc_2")
    store.release_claim("login:p_1")
    assert store.claim("login:p_1", NOW, account="acc_3")
    assert [store.take_next("proxy-requests:p_1", 0, NOW) for _ in range(3)] == [0, 1, 2]

    store.stage_events(
        NOW,
        outbox.Commit("accounts", "acc_1"),
        outbox.Event("account_created", "account_created:acc_1", {"id": "acc_1"}),
    )
    sent: list[str] = []
    outbox.relay(store.database, lambda name, _body: sent.append(name), NOW)
    assert sent == []  # the change has not happened: the event waits
    assert store.insert_account({"_id": "acc_1", "username": "wang"})
    outbox.relay(store.database, lambda name, _body: sent.append(name), NOW)
    assert sent == ["account_created"]

    ring = store.key_ring("code_keys")
    (key,) = signing_keys.load(ring, b"k" * 32, NOW)
    assert signing_keys.load(store.key_ring("code_keys"), b"k" * 32, NOW)[0]["_id"] == key["_id"]


def test_accounts_and_what_logins_remember(either: IdentityStore) -> None:
    account = {"_id": "acc_1", "username": "wang", "org_ancestors": ["C", "C/HP"], "roles": []}
    assert either.insert_account(account)
    assert not either.insert_account({**account, "_id": "acc_2"})  # the username is taken
    assert either.ensure_account({"_id": "acc_3", "username": "admin", "org_ancestors": []})
    assert not either.ensure_account({"_id": "acc_4", "username": "admin", "org_ancestors": []})
    assert either.load_account("acc_1") == account
    assert either.load_account("acc_1", {"username": 1}) == {"_id": "acc_1", "username": "wang"}
    assert either.load_account("acc_9") is None
    assert either.account_by_username("admin")["_id"] == "acc_3"
    assert ids(either.accounts_within("C/HP", 0, 10)) == ["acc_1"]
    assert ids(either.accounts_within("", 1, 10)) == ["acc_3"]
    either.update_account("acc_1", {"status": "disabled"})
    assert either.load_account("acc_1", {"status": 1}) == {"_id": "acc_1", "status": "disabled"}

    assert either.login_pair("pair") == {}
    either.put_login_pair("pair", {"series": 1})
    either.put_login_pair("pair", {"series": 2})
    assert either.login_pair("pair")["series"] == 2
    assert either.login_lock("name") is None
    either.lock_login("name", NOW + HOUR)
    either.lock_login("name", NOW + 2 * HOUR)
    assert either.login_lock("name")["until"] == NOW + 2 * HOUR


def person(n: int, unit: str = "C/HP/NH", **extra: Any) -> Document:
    return {
        "_id": f"p_{n}",
        "name": f"居民{n}",
        "id_number": {"hash": f"h{n}", "masked": "2101**********1234"},
        "org_ancestors": ["C", "C/HP", unit],
        "created_at": NOW + n * HOUR,
        **extra,
    }


def test_persons_and_organisations(either: IdentityStore) -> None:
    for n in range(1, 4):
        assert either.insert_person(person(n))
    assert not either.insert_person({**person(1), "_id": "p_9"})  # the number is registered
    org = {"_id": "o_1", "name": "星河科技", "credit_code": {"hash": "c1"}, "org_ancestors": []}
    assert either.insert_organisation(org)
    assert not either.insert_organisation({**org, "_id": "o_2"})
    assert either.load_person("p_1", {"name": 1}) == {"_id": "p_1", "name": "居民1"}
    assert either.load_organisation("o_1", {"name": 1}) == {"_id": "o_1", "name": "星河科技"}
    assert either.load_subject("p_2")["name"] == "居民2"
    assert either.load_subject("o_1")["name"] == "星河科技"
    assert either.person_by_number("h3")["_id"] == "p_3"
    assert either.organisation_by_code("c1")["_id"] == "o_1"
    assert either.person_by_number("h9") is None
    either.update_subject("p_1", {"frozen_self": True})
    either.update_subject("o_1", {"frozen_staff": {"reason": "核查"}})
    assert either.load_person("p_1", {"frozen_self": 1})["frozen_self"] is True
    assert either.load_organisation("o_1")["frozen_staff"] == {"reason": "核查"}
    assert ids(either.persons_within("C/HP/NH", 0, 2)) == ["p_3", "p_2"]  # the newest first
    assert ids(either.persons_within("C/HP/NH", 2, 2)) == ["p_1"]
    assert either.person_names(["p_1", "p_2", "p_1", "p_8"]) == {"p_1": "居民1", "p_2": "居民2"}
    assert either.persons_by_ids({"p_3"}, {"name": 1}) == [{"_id": "p_3", "name": "居民3"}]
    assert list(either.organisations_by_ids(["o_1", "o_7"])) == ["o_1"]
    after = either.subjects_after("o_", {"name": 1}, 2)
    assert sorted(ids(after)) == ["o_1", "p_1", "p_2"]  # up to two of each kind
    either.delete_person("p_3")
    assert either.load_person("p_3") is None


def test_operators_org_units_and_their_names(either: IdentityStore) -> None:
    either.insert_operator({"_id": "o_1:p_1", "org_id": "o_1", "subject_id": "p_1"})
    either.put_operator({"_id": "o_2:acc_1", "org_id": "o_2", "account_id": "acc_1", "role": "a"})
    either.put_operator({"_id": "o_2:acc_1", "org_id": "o_2", "account_id": "acc_1", "role": "b"})
    assert either.operator_link("o_2:acc_1")["role"] == "b"
    assert either.operator_link("o_3:acc_1") is None
    assert sorted(ids(either.operator_links("acc_1", "p_1"))) == ["o_1:p_1", "o_2:acc_1"]
    assert ids(either.operator_links(None, "p_1")) == ["o_1:p_1"]
    assert either.operator_links(None, None) == []

    for path, name in (("C", "沈阳市"), ("C/HP", "和平区"), ("C/HP/NH", "南湖街道")):
        assert either.insert_org_unit({"_id": path, "name": name, "ancestors": ancestors(path)})
    assert not either.insert_org_unit({"_id": "C/HP", "name": "again", "ancestors": []})
    assert either.load_org_unit("C/HP", {"name": 1}) == {"_id": "C/HP", "name": "和平区"}
    assert ids(either.org_units_within("C/HP")) == ["C/HP", "C/HP/NH"]
    assert ids(either.org_units_within(None)) == ["C", "C/HP", "C/HP/NH"]
    assert either.org_unit_names(["C/HP/NH", "C/X"]) == {"C/HP/NH": "南湖街道"}


def test_delegations_and_what_proxies_did(either: IdentityStore) -> None:
    for n, (principal, proxy, kind) in enumerate(
        [("p_1", "p_2", "proxy"), ("p_1", "p_2", "guardian"), ("p_3", "p_1", "proxy")]
    ):
        either.insert_delegation(
            {
                "_id": f"dlg_{n}",
                "principal": principal,
                "proxy": proxy,
                "kind": kind,
                "status": "pending",
                "created_at": NOW + n * HOUR,
                "rev": 0,
            }
        )
    pending = either.load_delegation("dlg_0")
    assert pending is not None
    moved = either.advance_delegation(pending, {"$set": {"status": "active"}}, NOW)
    assert (moved["status"], moved["rev"]) == ("active", 1)
    assert ids(either.guardianships("p_1", "p_2")) == ["dlg_1"]
    assert ids(either.delegations_of("p_1")) == ["dlg_2", "dlg_1", "dlg_0"]
    assert sorted(ids(either.delegations_to("p_2"))) == ["dlg_0", "dlg_1"]

    for n in range(3):
        act = {"_id": f"pa_{n}", "principal": "p_1", "proxy": "p_2", "at": NOW + n * HOUR}
        either.record_proxy_action(act)
        either.record_proxy_action(act)  # reported twice: kept once
    assert ids(either.proxy_actions("principal", "p_1", 2)) == ["pa_2", "pa_1"]
    assert ids(either.proxy_actions("proxy", "p_2", 10)) == ["pa_2", "pa_1", "pa_0"]
    assert either.proxy_actions("proxy", "p_1", 10) == []


def test_disclosures_texts_scans_and_cards(either: IdentityStore) -> None:
    for n in range(3):
        shown = {"_id": f"dis_{n}", "principal": "p_1", "to": "sms_partner", "at": NOW + n * HOUR}
        either.record_disclosure(shown)
        either.record_disclosure(shown)
    assert ids(either.disclosures_of("p_1", 2)) == ["dis_2", "dis_1"]

    text = {"_id": "sms:1", "state": "pending", "next_at": NOW, "attempts": 0}
    assert either.insert_notification(text)
    assert not either.insert_notification(text)
    assert either.due_notification("sms:1", NOW - HOUR) is None
    assert either.due_notification("sms:1", NOW)["_id"] == "sms:1"
    assert either.due_notifications(NOW, 10) == ["sms:1"]
    either.update_notification("sms:1", {"state": "sent"})
    assert either.due_notification("sms:1", NOW) is None
    assert either.due_notifications(NOW + HOUR, 10) == []

    for n in range(3):
        scan = {"_id": f"scan_{n}", "sub": "p_1", "at": NOW + n * HOUR, "dedupe_key": f"k{n}"}
        assert either.record_scan(scan)
    assert not either.record_scan({"_id": "scan_9", "sub": "p_1", "at": NOW, "dedupe_key": "k1"})
    assert ids(either.scans_of(["p_1", "p_2"], None, 2)) == ["scan_2", "scan_1"]
    assert ids(either.scans_of(["p_1"], NOW + 2 * HOUR, 10)) == ["scan_1", "scan_0"]
    use = {"_id": "scan_u1", "sub": "p_1", "at": NOW, "dedupe_key": "jti:1"}
    assert either.record_scan(use)  # a code's use, recorded once under its id
    assert not either.record_scan({**use, "dedupe_key": "offline:t:1"})
    assert either.load_scan("scan_u1")["dedupe_key"] == "jti:1"  # type: ignore[index]
    assert either.load_scan("scan_u9") is None
    assert ids(either.scans_of(["p_1"], None, 10)) == ["scan_2", "scan_1", "scan_u1", "scan_0"]

    cards = [
        {"_id": "c_a", "sub": "p_1", "idx": 7, "status": "active", "issued_at": NOW},
        {"_id": "c_b", "sub": "p_1", "idx": 9, "status": "active", "issued_at": NOW + HOUR},
        {"_id": "c_c", "sub": "p_1", "idx": 3, "status": "active", "issued_at": NOW + HOUR},
    ]
    for card in cards:
        either.insert_card(card)
    either.revoke_cards_before("p_1", cards[2], NOW + HOUR)  # c_a earlier, c_b same moment
    assert either.active_card("p_1")["_id"] == "c_c"
    assert either.load_card("c_a")["status"] == "revoked"
    assert either.load_card("c_b")["status"] == "revoked"
    assert sorted((c["idx"], c["status"]) for c in either.card_places()) == [
        (3, "active"),
        (7, "revoked"),
        (9, "revoked"),
    ]


def test_scans_from_before_the_days_were_kept_are_filed_once(store: IdentityStore) -> None:
    older = [  # NOW is 09:00 on 30 November in the city
        {"_id": "s_a", "sub": "p_1", "at": NOW, "dedupe_key": "a", "scene": "metro"},
        {"_id": "s_b", "sub": "p_1", "at": NOW + 20 * HOUR, "dedupe_key": "b"},  # 1 December
        {"_id": "s_c", "sub": "p_2", "at": NOW + HOUR, "dedupe_key": "c"},
        {"_id": "s_e", "sub": "p_1", "at": NOW - 400 * 24 * HOUR, "dedupe_key": "e"},
    ]
    store.database.scans.insert_many(older)
    # a scan recorded by a live process on a day that has older scans, before the filing
    assert store.record_scan({"_id": "s_d", "sub": "p_1", "at": NOW + HOUR, "dedupe_key": "d"})
    assert store.file_scans(NOW) == 5
    assert store.file_scans(NOW) == 0  # once
    assert store.scans_filed()
    assert ids(store.scans_of(["p_1"], None, 10)) == ["s_b", "s_d", "s_a", "s_e"]  # each once
    assert ids(store.scans_of(["p_1", "p_2"], None, 2)) == ["s_b", "s_d"]
    assert ids(store.scans_of(["p_1", "p_2"], NOW + 20 * HOUR, 2)) == ["s_d", "s_c"]
    assert store.scans_of(["p_1"], None, 10)[2]["scene"] == "metro"
    assert store.scans_of(["p_9"], None, 10) == []
    # a registered subject's history is read back to the month it registered, no further
    store.database.persons.insert_one({"_id": "p_1", "created_at": NOW - 24 * HOUR})
    assert ids(store.scans_of(["p_1"], None, 10)) == ["s_b", "s_d", "s_a"]


def test_scans_of_one_code_at_once_are_all_in_the_history(store: IdentityStore) -> None:
    """Twenty scans of one subject on one day, recorded at once from a store that starts
    now: each takes its own slot (none lost, as in-place updates under FerretDB are)."""
    assert store.file_scans(NOW) == 0
    store_module._SLOT_HINTS.clear()

    def record(n: int) -> bool:
        scan = {"_id": f"scan_{n}", "sub": "p_1", "at": NOW + n * SECOND, "dedupe_key": str(n)}
        return store.record_scan(scan)

    with eventlet.Timeout(120):
        recorded = list(eventlet.GreenPool(20).imap(record, range(20)))
    assert all(recorded)
    assert ids(store.scans_of(["p_1"], None, 50)) == [f"scan_{n}" for n in reversed(range(20))]
