"""Every method of policy's store on the real database (FerretDB here), each in a database of
its own with policy's indexes, as the service creates them; and the same checks on the
in-memory store the unit tests use, so the two cannot drift apart."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import eventlet
import pymongo
import pytest

from services.common import outbox
from services.common.document import Document
from services.common.errors import Conflict
from services.common.mongo import ensure_indexes
from services.policy.store import INDEXES, PolicyStore
from tests.conftest import MONGO_URL
from tests.unit.policy.memory_store import MemoryPolicyStore

NOW = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture
def store() -> Iterator[PolicyStore]:
    client: pymongo.MongoClient[Document] = pymongo.MongoClient(MONGO_URL, tz_aware=True)
    name = f"it_policy_store_{uuid.uuid4().hex[:8]}"
    try:
        ensure_indexes(client[name], INDEXES)
        yield PolicyStore(client[name])
    finally:
        client.drop_database(name)
        client.close()


@pytest.fixture(params=["database", "memory"])
def either(request: pytest.FixtureRequest, store: PolicyStore) -> PolicyStore:
    return store if request.param == "database" else MemoryPolicyStore()


def ids(documents: Any) -> list[Any]:
    return [d["_id"] for d in documents]


def relayed(store: PolicyStore) -> list[str]:
    """The events that left since last asked (those whose change happened)."""
    if isinstance(store, MemoryPolicyStore):
        names = store.event_names()
        store.events.clear()
        return names
    sent: list[str] = []
    outbox.relay(store.database, lambda name, _body: sent.append(name), NOW)
    return sent


def event(name: str, key: str) -> outbox.Event:
    return outbox.Event(name, f"{name}:{key}", {"key": key})


def test_claims_and_the_events_a_claim_commits(either: PolicyStore) -> None:
    assert either.claim("policy-code:aids", NOW, owner="C/HP")
    assert not either.claim("policy-code:aids", NOW, owner="C/XX")
    either.repoint_claim("policy-code:aids", owner="C/HP/NH")
    assert either.claimed("policy-code:aids")["owner"] == "C/HP/NH"  # type: ignore[index]
    either.release_claim("policy-code:aids")
    assert either.claimed("policy-code:aids") is None
    assert [either.take_next("runs", 0, NOW) for _ in range(3)] == [0, 1, 2]

    flagged = event("policy_unreceived", "aids:p_1")
    assert either.claim_committing("unreceived:aids:p_1", NOW, flagged)
    assert not either.claim_committing("unreceived:aids:p_1", NOW, flagged)
    assert relayed(either) == ["policy_unreceived"]  # once


def policy(n: int, code: str = "aids", status: str = "published", **extra: Any) -> Document:
    return {
        "_id": f"pol_{code}_{n}",
        "code": code,
        "version": n,
        "status": status,
        "subject_type": "person",
        "reads": ["device_price"],
        "org_path": "C/HP",
        "created_at": NOW + n * HOUR,
        "rev": 0,
        **extra,
    }


def test_policies_and_their_versions(either: PolicyStore) -> None:
    assert either.insert_policy(policy(1, status="retired"))
    assert either.insert_policy(policy(2))
    assert not either.insert_policy({**policy(2), "_id": "pol_other"})  # that version exists
    assert either.insert_policy(policy(1, code="elder", status="draft"))
    assert either.load_policy("pol_aids_2")["version"] == 2  # type: ignore[index]
    assert either.load_policy("pol_aids_2", {"org_path": 1}) == {
        "_id": "pol_aids_2",
        "org_path": "C/HP",
    }
    assert either.load_policy("pol_none") is None
    assert ids(either.policies()) == ["pol_aids_1", "pol_aids_2", "pol_elder_1"]
    assert ids(either.policies("draft")) == ["pol_elder_1"]
    assert sorted(ids(either.versions_of("aids"))) == ["pol_aids_1", "pol_aids_2"]
    assert ids(either.versions_of("aids", ("published",))) == ["pol_aids_2"]
    assert ids(either.versions_of("aids", ("draft",))) == []
    assert either.published_policies() == [
        {"_id": "pol_aids_2", "subject_type": "person", "reads": ["device_price"]}
    ]

    assert either.insert_policy({**policy(1, code="Typed"), "_id": "pol_typed"})
    spelled = either.versions_spelled("typed", {"org_path": 1})
    assert spelled == [{"_id": "pol_typed", "org_path": "C/HP"}]
    assert either.versions_spelled("type") == []  # the whole code, not a prefix

    current = either.load_policy("pol_aids_2")
    assert current is not None
    moved = either.advance_policy(current, {"$set": {"status": "suspended"}}, NOW)
    assert (moved["status"], moved["rev"]) == ("suspended", 1)
    with pytest.raises(Conflict):  # read before the change
        either.advance_policy(current, {"$set": {"status": "retired"}}, NOW)
    assert either.load_policy("pol_aids_2")["status"] == "suspended"  # type: ignore[index]


def test_the_catalogue_of_published_policies(either: PolicyStore) -> None:
    assert either.catalogue_revision("person") is None
    assert either.catalogue_entries("person") == []
    either.write_catalogue("person", [{"id": "pol_1", "reads": ["age"]}], "r1")
    either.write_catalogue("person", [{"id": "pol_2", "reads": []}], "r2")
    either.write_catalogue("organisation", [], "r3")
    assert either.catalogue_revision("person") == "r2"
    assert either.catalogue_entries("person") == [{"id": "pol_2", "reads": []}]
    assert either.catalogue_entries("organisation") == []


def facts_of(subject: str, kind: str = "person", **values: Any) -> Document:
    return {
        "_id": subject,
        "kind": kind,
        "org_path": "C/HP/NH",
        "values": {
            name: {"value": v, "source": "feed", "as_of": NOW} for name, v in values.items()
        },
        "rev": 0,
    }


def test_facts_about_subjects(either: PolicyStore) -> None:
    assert either.insert_facts(facts_of("p_1", device_price=1000, low_income=True))
    assert not either.insert_facts(facts_of("p_1"))  # the subject has its document
    assert either.insert_facts(facts_of("o_1", kind="organisation", employees=30))
    assert either.insert_facts(facts_of("p_2"))
    assert either.load_facts("p_9") is None
    assert sorted(ids(either.subjects_of_kind("person"))) == ["p_1", "p_2"]
    assert ids(either.subjects_of_kind("organisation")) == ["o_1"]

    held = either.load_facts("p_1")
    assert held is not None
    fact = {"value": 2000, "source": "feed", "as_of": NOW, "valid_until": None}
    update = {"$set": {"values.device_price": fact}, "$unset": {"values.low_income": ""}}
    moved = either.advance_facts(held, update, NOW)
    assert moved["values"] == {"device_price": fact}
    assert moved["rev"] == 1
    with pytest.raises(Conflict):
        either.advance_facts(held, {"$set": {"values.age": fact}}, NOW)
    assert either.load_facts("p_1") == moved


def test_fact_batches_and_fact_kinds(either: PolicyStore) -> None:
    assert either.load_fact_batch("facts-batch:feed:b1") is None
    either.record_fact_batch({"_id": "facts-batch:feed:b1", "at": NOW, "report": {"applied": 3}})
    either.record_fact_batch({"_id": "facts-batch:feed:b1", "at": NOW, "report": {"applied": 0}})
    assert either.load_fact_batch("facts-batch:feed:b1")["report"] == {"applied": 3}  # type: ignore[index]

    assert either.insert_fact_kind({"_id": "rent", "label": "租金", "type": "money"})
    assert not either.insert_fact_kind({"_id": "rent", "label": "房租", "type": "money"})
    assert either.insert_fact_kind({"_id": "area", "label": "面积", "type": "number"})
    assert either.load_fact_kind("rent")["label"] == "租金"  # type: ignore[index]
    assert either.load_fact_kind("none") is None
    assert ids(either.fact_kinds(10)) == ["area", "rent"]
    assert ids(either.fact_kinds(1)) == ["area"]


def test_what_identity_and_certs_told(either: PolicyStore) -> None:
    assert either.subjects_cursor() == ""
    either.move_subjects_cursor("p_100")
    either.move_subjects_cursor("p_200")
    assert either.subjects_cursor() == "p_200"
    assert not either.subjects_caught_up()
    either.move_subjects_cursor("p_250", caught_up=True)
    assert (either.subjects_cursor(), either.subjects_caught_up()) == ("p_250", True)

    first = {"_id": "p_1:disability_certificate", "numbers": {"A": {"order": "1"}}, "rev": 0}
    assert either.insert_cert_order(first)
    assert not either.insert_cert_order({**first, "numbers": {}})
    held = either.load_cert_order("p_1:disability_certificate")
    assert held == first
    moved = either.advance_cert_order(held, {"$set": {"numbers.B": {"order": "2"}}}, NOW)
    assert moved["numbers"] == {"A": {"order": "1"}, "B": {"order": "2"}}
    with pytest.raises(Conflict):
        either.advance_cert_order(held, {"$set": {"numbers.C": {"order": "3"}}}, NOW)
    assert either.load_cert_order("p_9:disability_certificate") is None


def match(policy_id: str, subject: str, eligible: str, amount: int | None = None) -> Document:
    return {
        "_id": f"{policy_id}:{subject}",
        "policy": policy_id,
        "subject": subject,
        "org_path": "C/HP/NH",
        "eligible": eligible,
        "amount": amount,
        "degree": 1.0,
        "at": NOW,
    }


def test_matches(either: PolicyStore) -> None:
    either.put_matches([])
    either.put_matches([match("pol_1", "p_1", "yes", 100), match("pol_1", "p_2", "no")])
    either.put_matches([match("pol_1", "p_2", "yes", 200), match("pol_2", "p_1", "yes")])
    found = sorted(either.eligible_matches("pol_1"), key=lambda m: m["_id"])
    assert [(m["subject"], m["amount"]) for m in found] == [("p_1", 100), ("p_2", 200)]
    assert either.eligible_matches("pol_9") == []


def message(subject: str, about: str, hours: int) -> Document:
    return {
        "_id": f"aids:{about}:{subject}",
        "subject": subject,
        "kind": "pushed",
        "at": NOW + hours * HOUR,
    }


def test_the_inbox_and_what_each_subject_was_told(either: PolicyStore) -> None:
    pushed = event("policy_pushed", "aids:v1:p_1")
    assert either.deliver_message(message("p_1", "v1", 0), NOW, pushed)
    assert not either.deliver_message(message("p_1", "v1", 5), NOW, pushed)  # told once
    assert either.deliver_message(message("p_1", "v2", 2), NOW, event("policy_pushed", "v2"))
    assert either.deliver_message(message("p_2", "v1", 1), NOW)
    assert relayed(either) == ["policy_pushed", "policy_pushed"]
    assert ids(either.messages_for(["p_1"], 10)) == ["aids:v2:p_1", "aids:v1:p_1"]
    assert ids(either.messages_for(["p_1", "p_2"], 2)) == ["aids:v2:p_1", "aids:v1:p_2"]

    assert either.push_mark("aids:p_1") is None
    either.put_push_mark({"_id": "aids:p_1", "code": "aids", "version": 1, "amount": 100})
    either.put_push_mark({"_id": "aids:p_1", "code": "aids", "version": 2, "amount": 100})
    assert either.push_mark("aids:p_1")["version"] == 2  # type: ignore[index]


def payout(subject: str, status: str = "new", period: str = "once", **extra: Any) -> Document:
    return {
        "_id": f"aids:{period}:{subject}",
        "code": "aids",
        "period": period,
        "subject": subject,
        "amount": 1000,
        "status": status,
        "created_at": NOW,
        "rev": 0,
        **extra,
    }


def test_payouts_inserted_in_a_batch_each_once(either: PolicyStore) -> None:
    assert either.insert_payouts([]) == set()
    assert either.insert_payouts([payout("p_2", "paid")]) == {"aids:once:p_2"}
    batch = [payout("p_1"), payout("p_2"), payout("p_3"), payout("p_1", period="2026-11")]
    assert either.insert_payouts(batch) == {"aids:once:p_1", "aids:once:p_3", "aids:2026-11:p_1"}
    assert either.insert_payouts(batch) == set()  # a run again: every one there already
    assert either.load_payout("aids:once:p_2")["status"] == "paid"  # type: ignore[index]
    assert either.load_payout("aids:once:p_2", {"status": 1}) == {
        "_id": "aids:once:p_2",
        "status": "paid",
    }
    assert either.load_payout("aids:once:p_9") is None
    assert len(list(either.payouts_of("aids"))) == 4


def test_a_payout_moves_once_per_revision_with_its_events(either: PolicyStore) -> None:
    either.insert_payouts([payout("p_1", "offered")])
    offered = either.load_payout("aids:once:p_1")
    assert offered is not None
    confirmed = event("proxy_acted", "confirm:p_1")
    moved = either.advance_payout(offered, {"$set": {"status": "disbursing"}}, NOW, [confirmed])
    assert (moved["status"], moved["rev"]) == ("disbursing", 1)
    with pytest.raises(Conflict):
        either.advance_payout(offered, {"$set": {"status": "declined"}}, NOW, [event("x", "1")])
    assert relayed(either) == ["proxy_acted"]  # the lost race's event never leaves
    assert either.load_payout("aids:once:p_1")["status"] == "disbursing"  # type: ignore[index]


def test_payouts_read_by_state_code_period_and_subject(either: PolicyStore) -> None:
    either.insert_payouts(
        [
            payout("p_1", "unfunded"),
            payout("p_2", "unfunded", period="2026-11"),
            payout("p_3", "failed", flagged=False, created_at=NOW + HOUR),
            payout("p_4", "failed", flagged=True),
            payout("p_5", "disbursing"),
            payout("p_6", "offered", created_at=NOW + 2 * HOUR),
            {**payout("p_7", "paid"), "code": "elder", "_id": "elder:once:p_7"},
        ]
    )
    assert either.unfunded_subjects("aids", "once") == {"p_1"}
    assert either.unfunded_subjects("aids", "2026-12") == set()
    assert ids(either.payouts_of("aids")) == sorted(
        ["aids:2026-11:p_2", *(f"aids:once:p_{n}" for n in (1, 3, 4, 5, 6))]
    )
    assert ids(either.payouts_of("aids", status="failed")) == ["aids:once:p_3", "aids:once:p_4"]
    assert ids(either.payouts_of("aids", period="2026-11")) == ["aids:2026-11:p_2"]
    assert ids(either.payouts_of("aids", "unfunded", "once")) == ["aids:once:p_1"]
    assert list(either.payouts_of("aids", "paid", fields={"status": 1})) == []
    assert list(either.payouts_of("elder", fields={"status": 1})) == [
        {"_id": "elder:once:p_7", "status": "paid"}
    ]
    assert ids(either.payouts_of_subjects(["p_6", "p_3", "p_1"], 2)) == [
        "aids:once:p_6",
        "aids:once:p_3",
    ]
    assert ids(either.failed_payouts(10)) == ["aids:once:p_3"]  # p_4 is flagged to staff
    assert ids(either.disbursing_payouts(10)) == ["aids:once:p_5"]
    assert ids(either.open_offers(10)) == ["aids:once:p_6"]
    assert sorted(either.payouts_by_state()) == [
        ("disbursing", 1, 1000),
        ("failed", 2, 2000),
        ("offered", 1, 1000),
        ("paid", 1, 1000),
        ("unfunded", 2, 2000),
    ]


def test_the_budget_chain(either: PolicyStore) -> None:
    assert either.reserved_budget("aids") == 0
    assert either.reserve_budget("aids", 2500, "aids:once:p_1", 1000, NOW) == 0
    assert either.reserve_budget("aids", 2500, "aids:once:p_2", 1000, NOW) == 1
    assert either.reserve_budget("aids", 2500, "aids:once:p_3", 1000, NOW) is None  # 3000
    assert either.reserve_budget("aids", 2500, "aids:once:p_4", 500, NOW) == 2  # 2500 fits
    assert either.reserved_budget("aids") == 2500
    assert either.reserve_budget("aids", None, "aids:once:p_2:release", -1000, NOW) == 3
    assert either.reserved_budget("aids") == 1500
    assert either.reserve_budget("aids", 2500, "aids:once:p_3", 1000, NOW) == 4
    assert either.reserve_budget("elder", None, "elder:once:p_1", 7000, NOW) == 0
    assert either.reserved_budget("aids") == 2500
    assert either.reserved_budget("elder") == 7000
    assert either.budget_entry_of("aids", "aids:once:p_4") == 2
    assert either.budget_entry_of("aids", "aids:once:p_9") is None
    # One entry per name: a refund made twice (by a run and by the one taking it over) is
    # found, not added, even when the walk starts past it.
    assert either.reserve_budget("aids", None, "aids:once:p_2:release", -1000, NOW) == 3
    assert either.reserve_budget("elder", None, "elder:once:p_2", 100, NOW) == 1
    assert either.reserve_budget("aids", None, "aids:once:p_2:release", -1000, NOW) == 3
    assert either.reserved_budget("aids") == 2500


def test_a_block_reserves_the_prefix_that_fits_and_lists_what_it_covers(
    either: PolicyStore,
) -> None:
    assert either.reserve_budget("aids", 3000, "aids:once:p_0", 500, NOW) == 0
    wanted = [("aids:once:p_1", 1000), ("aids:once:p_2", 1000), ("aids:once:p_3", 1000)]
    assert either.reserve_block("aids", 3000, "block:a", wanted, NOW) == (1, 2)  # 2500 of 3000
    assert either.reserved_budget("aids") == 2500
    entry = either.chain_entry("aids", "block:a")
    assert entry is not None
    assert (entry["n"], entry["block"], entry["amounts"]) == (
        1,
        ["aids:once:p_1", "aids:once:p_2"],
        [1000, 1000],
    )
    assert either.reserve_block("aids", 3000, "block:b", [("aids:once:p_3", 1000)], NOW) == (
        None,
        0,
    )
    assert either.reserve_block("aids", None, "block:c", [("aids:once:p_3", 1000)], NOW) == (2, 1)
    assert either.chain_entry("aids", "block:b") is None
    assert either.budget_entry_of("aids", "block:c") == 2


def test_one_run_of_a_code_at_a_time_and_a_silent_one_taken_over(either: PolicyStore) -> None:
    assert either.take_run("aids", "run_a", NOW, NOW - HOUR) == {
        "_id": "aids",
        "holder": "run_a",
        "at": NOW,
        "block": None,
        "left": None,
    }
    assert either.take_run("aids", "run_b", NOW, NOW - HOUR) is None  # run_a is live
    assert either.take_run("elder", "run_b", NOW, NOW - HOUR) is not None  # another code
    assert either.renew_run("aids", "run_a", NOW + HOUR, "aids:once:run_a:0")
    assert not either.renew_run("aids", "run_b", NOW + HOUR, "aids:once:run_b:0")
    later = NOW + 3 * HOUR
    taken = either.take_run("aids", "run_c", later, later - HOUR)  # run_a silent for 2 hours
    assert taken is not None
    assert taken["holder"] == "run_c"
    assert (taken["left"]["holder"], taken["left"]["block"]) == ("run_a", "aids:once:run_a:0")
    assert not either.renew_run("aids", "run_a", later, "aids:once:run_a:1")  # it lost it
    either.end_run("aids", "run_a")  # not its own any more: nothing happens
    assert either.take_run("aids", "run_d", later, later - HOUR) is None
    either.end_run("aids", "run_c")
    assert either.take_run("aids", "run_d", later, later - HOUR) is not None


def test_the_budget_is_never_passed_by_reservations_at_once(store: PolicyStore) -> None:
    """Thirty payouts of 100 fen reserved by ten green threads at once, against 1,000 fen:
    ten are reserved, to the fen, each in one place."""
    pool = eventlet.GreenPool(10)
    places = list(
        pool.imap(
            lambda i: store.reserve_budget("aids", 1000, f"aids:once:p_{i}", 100, NOW), range(30)
        )
    )
    reserved = [p for p in places if p is not None]
    assert sorted(reserved) == list(range(10))
    assert store.reserved_budget("aids") == 1000
    held = [store.budget_entry_of("aids", f"aids:once:p_{i}") for i in range(30)]
    assert sorted(p for p in held if p is not None) == list(range(10))  # each payout once


def correction(n: int, subject: str, hours: int) -> Document:
    return {
        "_id": f"fc_{n}",
        "subject": subject,
        "fact": "low_income",
        "proposed": True,
        "status": "pending",
        "created_at": NOW + hours * HOUR,
        "rev": 0,
    }


def test_fact_corrections(either: PolicyStore) -> None:
    either.insert_correction(correction(1, "p_1", 0), NOW, event("fact_disputed", "fc_1"))
    either.insert_correction(correction(2, "p_1", 2), NOW)
    either.insert_correction(correction(3, "p_2", 1), NOW)
    assert relayed(either) == ["fact_disputed"]
    found = either.load_correction("fc_1")
    assert found is not None
    assert found["proposed"] is True
    assert either.load_correction("fc_9") is None
    decided = event("fact_correction_decided", "fc_1")
    moved = either.advance_correction(found, {"$set": {"status": "accepted"}}, NOW, [decided])
    assert (moved["status"], moved["rev"]) == ("accepted", 1)
    with pytest.raises(Conflict):
        either.advance_correction(found, {"$set": {"status": "rejected"}}, NOW)
    assert relayed(either) == ["fact_correction_decided"]
    assert ids(either.corrections_of(["p_1", "p_2"], 10)) == ["fc_2", "fc_3", "fc_1"]
    assert ids(either.corrections_of(["p_1"], 1)) == ["fc_2"]
