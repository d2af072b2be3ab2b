"""No-application payouts (免申即享) through the store's interface (in memory): each eligible
subject paid once per period whatever runs again, the budget stopping the run at the first
subject it cannot pay and funding the waiting first when money comes back, and each
settlement (paid, accepted then called back, failed and retried, offered then confirmed,
declined or expired) as the subject and the ledger see it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from services.common.access import Guard, acting_as
from services.common.actor import Actor
from services.common.codec import CITY_TIME
from services.common.document import Document
from services.common.errors import Conflict, InvalidInput
from services.policy import access, facts, payouts, policies
from tests.unit.policy.memory_store import MemoryPolicyStore
from tests.unit.policy.working import work

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=CITY_TIME)
STAFF = Actor(account_id="acc_clerk", roles=("staff",), org_path="C/HP")


class Partner:
    """The payment partner: answers each payout with the outcome it is given, and counts."""

    def __init__(self, outcome: str = "paid") -> None:
        self.outcome = outcome
        self.asked: list[str] = []

    def __call__(self, payout: Document) -> tuple[str, str]:
        self.asked.append(payout["_id"])
        if self.outcome == "failed":
            return "failed", "the partner is down"
        return self.outcome, f"pay_{payout['_id']}"


@pytest.fixture
def store() -> MemoryPolicyStore:
    return MemoryPolicyStore()


def publish(
    store: MemoryPolicyStore,
    code: str = "aids",
    *,
    mode: str = "confirm",
    budget: int | None = None,
    period: str = "once",
) -> Document:
    body = {
        "code": code,
        "title": "辅具补贴",
        "department": "区残联",
        "category": "disability",
        "subject_type": "person",
        "mode": mode,
        "payout_period": period,
        "budget": budget,
        "conditions": {
            "all": [
                {"fact": "disability_category", "op": "exists", "label": "持证"},
                {"fact": "device_price", "op": ">", "value": 0, "label": "已评估"},
            ]
        },
        "amount": {"rate": 1, "of": "device_price"},
    }
    policy = {
        "_id": f"pol_{code}",
        **policies.validate_definition(body),
        "version": 1,
        "status": "published",
        "org_path": "C/HP",
        "published_at": NOW - timedelta(days=60),
        "rev": 0,
    }
    assert store.insert_policy(policy)
    return policy


def subject(store: MemoryPolicyStore, name: str, price: int, *, certified: bool = True) -> str:
    values: dict[str, Any] = {"device_price": {"value": price, "source": "feed", "as_of": NOW}}
    if certified:
        values["disability_category"] = {"value": "肢体", "source": "certs", "as_of": NOW}
    subject_id = f"p_{name}"
    store.insert_facts(
        {"_id": subject_id, "kind": "person", "org_path": "C/HP/NH", "values": values, "rev": 0}
    )
    return subject_id


def guard(operation: str, actor: Actor = STAFF) -> Guard:
    return acting_as(access.TABLE, operation, actor)


def run(
    store: MemoryPolicyStore,
    policy: Document,
    partner: Partner | None = None,
    *,
    period: str = "once",
    at: datetime = NOW,
) -> dict[str, Any]:
    return payouts.run(
        work(store, guard("run_payouts"), at, partner or Partner()), policy["_id"], period
    )


def states(store: MemoryPolicyStore, policy: Document) -> dict[str, str]:
    return {p["subject"]: p["status"] for p in store.payouts_of(policy["code"])}


def ledger(store: MemoryPolicyStore, policy: Document) -> dict[str, Any]:
    return payouts.ledger(work(store, guard("policy_ledger"), NOW), policy["_id"])


def citizen(subject_id: str) -> Actor:
    return Actor(account_id=f"acc_{subject_id}", roles=("citizen",), subject_id=subject_id)


def respond(
    store: MemoryPolicyStore,
    payout_id: str,
    accept: bool,
    partner: Partner | None = None,
    at: datetime = NOW,
) -> dict[str, Any]:
    subject_id = payout_id.rsplit(":", 1)[1]
    answer = guard("respond_to_payout", citizen(subject_id))
    return payouts.respond(work(store, answer, at, partner or Partner()), payout_id, accept)


def told(store: MemoryPolicyStore, kind: str) -> list[str]:
    """The subjects messaged ``kind`` in their inbox, each message texted once (its
    ``policy_pushed`` event)."""
    everyone = [s["_id"] for s in store.subjects_of_kind("person")]
    messages = [m for m in store.messages_for(everyone, 100) if m["kind"] == kind]
    texted = [e.payload["message_id"] for e in store.events if e.name == "policy_pushed"]
    assert all(texted.count(m["_id"]) == 1 for m in messages)
    return sorted(m["subject"] for m in messages)


# each eligible subject once


def test_a_run_offers_each_eligible_subject_once_and_a_second_run_creates_nothing(
    store: MemoryPolicyStore,
) -> None:
    policy = publish(store)
    for name, price in (("li", 1000), ("wang", 2000), ("zhao", 3000)):
        subject(store, name, price)
    subject(store, "sun", 4000, certified=False)  # not eligible

    first = run(store, policy)
    assert (first["eligible"], first["created"], first["offered"]) == (3, 3, 3)
    assert states(store, policy) == {"p_li": "offered", "p_wang": "offered", "p_zhao": "offered"}
    assert store.load_payout("aids:once:p_wang")["amount"] == 2000  # type: ignore[index]
    assert ledger(store, policy)["reserved_in_budget"] == 6000

    again = run(store, policy)
    assert (again["created"], again["offered"], again["settled_before"]) == (0, 0, 3)
    assert len(list(store.payouts_of(policy["code"]))) == 3
    assert ledger(store, policy)["reserved_in_budget"] == 6000  # nothing reserved twice
    assert ledger(store, policy)["reconciled"] is True


def test_a_payout_an_earlier_run_made_is_kept_as_it_is(store: MemoryPolicyStore) -> None:
    policy = publish(store, mode="auto")
    subject(store, "li", 1000)
    subject(store, "wang", 2000)
    partner = Partner()
    run(store, policy, partner, at=NOW - timedelta(hours=1))
    facts.put_facts(store, NOW, "p_li", {"device_price": 9999}, "feed")  # a changed fact
    later = Partner()
    report = run(store, policy, later)
    assert (report["created"], report["paid"], report["settled_before"]) == (0, 0, 2)
    assert later.asked == []  # nobody asked to pay again
    assert store.load_payout("aids:once:p_li")["amount"] == 1000  # type: ignore[index]


def test_every_subject_is_created_once_across_the_run_s_batches(
    store: MemoryPolicyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(payouts, "CREATED_AT_ONCE", 2)
    policy = publish(store, budget=3000)
    for n in range(5):
        subject(store, f"s{n}", 1000)
    report = run(store, policy)
    assert (report["eligible"], report["created"], report["offered"]) == (5, 5, 3)
    assert states(store, policy) == {
        "p_s0": "offered",
        "p_s1": "offered",
        "p_s2": "offered",
        "p_s3": "unfunded",
        "p_s4": "unfunded",
    }
    assert run(store, policy)["created"] == 0


def test_while_a_run_goes_a_second_one_is_told_so_and_changes_nothing(
    store: MemoryPolicyStore,
) -> None:
    policy = publish(store)
    subject(store, "li", 1000)
    assert store.take_run(policy["code"], "run_elsewhere", NOW, NOW - payouts.TAKEOVER_AFTER)
    with pytest.raises(Conflict) as refused:
        run(store, policy)
    assert refused.value.extra["state"] == "running"
    assert refused.value.extra["code"] == "run_in_progress"  # the page says so in words
    assert states(store, policy) == {}
    store.end_run(policy["code"], "run_elsewhere")
    assert run(store, policy)["offered"] == 1


def test_a_run_that_stopped_after_reserving_a_block_is_followed_by_one_that_gives_it_back(
    store: MemoryPolicyStore,
) -> None:
    """The first runner reserved its block (li and wang, 3000 of a 4000 budget) and inserted
    only li's payout before it stopped; the next run, once the lease is stale, gives back
    wang's share and pays the budget to the fen in the run's order."""
    policy = publish(store, budget=4000)
    for name, price in (("li", 1000), ("wang", 2000), ("zhao", 1000), ("sun", 500)):
        subject(store, name, price)
    stopped = NOW - payouts.TAKEOVER_AFTER - timedelta(seconds=1)
    block = "aids:once:run_stopped:0"
    assert store.take_run(policy["code"], "run_stopped", stopped, stopped)
    assert store.renew_run(policy["code"], "run_stopped", stopped, block)
    wanted = [("aids:once:p_li", 1000), ("aids:once:p_wang", 2000)]
    n, covered = store.reserve_block(policy["code"], 4000, block, wanted, stopped)
    assert covered == 2
    store.insert_payouts(
        [{**payouts_left(policy, "p_li", 1000, stopped), "status": "offered", "budget_entry": n}]
    )

    report = run(store, policy)
    # li kept as the stopped run left it; wang's share came back first, so the walk (li,
    # sun, wang, zhao by id) funds sun and wang, and the budget stops at zhao.
    assert states(store, policy) == {
        "p_li": "offered",
        "p_sun": "offered",
        "p_wang": "offered",
        "p_zhao": "unfunded",
    }
    assert report["settled_before"] == 1
    assert ledger(store, policy)["reserved_in_budget"] == 3500
    assert ledger(store, policy)["reconciled"] is True
    assert run(store, policy)["created"] == 0
    assert ledger(store, policy)["reconciled"] is True  # the quiet run held nothing back


def test_a_run_that_fails_part_way_gives_its_block_back_and_frees_the_policy(
    store: MemoryPolicyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = publish(store, budget=2500)
    for name, price in (("li", 1000), ("wang", 1000), ("zhao", 1000)):
        subject(store, name, price)

    insert, failures = store.insert_payouts, [OSError("the connection dropped")]

    def once_down(documents: Any) -> set[str]:
        if failures:
            raise failures.pop()
        return insert(documents)

    monkeypatch.setattr(store, "insert_payouts", once_down)
    with pytest.raises(OSError, match="dropped"):
        run(store, policy)
    monkeypatch.undo()
    assert ledger(store, policy)["reserved_in_budget"] == 0  # the block came back
    report = run(store, policy)  # at once: the failed run freed the policy
    # The placeholders the give-back wrote wait their turn, and get their decision record.
    assert states(store, policy) == {"p_li": "offered", "p_wang": "offered", "p_zhao": "unfunded"}
    assert store.load_payout("aids:once:p_li")["decision"] is not None  # type: ignore[index]
    assert report["eligible"] == 3
    assert ledger(store, policy)["reserved_in_budget"] == 2000
    assert ledger(store, policy)["reconciled"] is True


def test_a_run_the_database_left_keeps_the_policy_until_the_next_run_takes_it_over(
    store: MemoryPolicyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = publish(store, budget=2500)
    for name, price in (("li", 1000), ("wang", 1000), ("zhao", 1000)):
        subject(store, name, price)

    def down(_payouts: Any) -> set[str]:
        raise OSError("the database went away")

    monkeypatch.setattr(store, "insert_payouts", down)
    with pytest.raises(OSError, match="went away"):
        run(store, policy)
    monkeypatch.undo()
    with pytest.raises(Conflict):  # it could not give its block back: the lease stays
        run(store, policy)
    later = NOW + payouts.TAKEOVER_AFTER + timedelta(seconds=1)
    run(store, policy, at=later)  # takes the silent run's lease over, gives the block back
    assert states(store, policy) == {"p_li": "offered", "p_wang": "offered", "p_zhao": "unfunded"}
    assert ledger(store, policy)["reserved_in_budget"] == 2000
    assert ledger(store, policy)["reconciled"] is True


def test_a_run_too_slow_to_keep_its_lease_cannot_insert_what_the_next_one_gave_back(
    store: MemoryPolicyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first run reserves its block, then stalls past the takeover delay before it
    inserts; a second run takes over, writes placeholders and gives the block back, and pays
    everyone. When the first run wakes its insert finds every payout there: the budget holds
    to the fen and nothing is paid twice."""
    policy = publish(store, budget=2500)
    for name, price in (("li", 1000), ("wang", 1000), ("zhao", 1000)):
        subject(store, name, price)
    insert = store.insert_payouts
    later = NOW + payouts.TAKEOVER_AFTER + timedelta(seconds=1)
    second: list[dict[str, Any]] = []
    stalls = [True]

    def stalled(documents: Any) -> set[str]:
        if stalls:
            stalls.clear()
            second.append(run(store, policy, at=later))  # while the first one sleeps
        return insert(documents)

    monkeypatch.setattr(store, "insert_payouts", stalled)
    monkeypatch.setattr(payouts, "CREATED_AT_ONCE", 2)
    with pytest.raises(Conflict):  # the first run finds at its next renewal it lost the lease
        run(store, policy)
    monkeypatch.undo()
    assert states(store, policy) == {"p_li": "offered", "p_wang": "offered", "p_zhao": "unfunded"}
    assert second[0]["offered"] == 2
    assert ledger(store, policy)["reserved_in_budget"] == 2000
    assert ledger(store, policy)["reconciled"] is True


def payouts_left(policy: Document, subject_id: str, amount: int, at: datetime) -> Document:
    """A payout as a stopped run wrote it."""
    return {
        "_id": f"{policy['code']}:once:{subject_id}",
        "policy": policy["_id"],
        "code": policy["code"],
        "version": policy["version"],
        "period": "once",
        "subject": subject_id,
        "org_path": "C/HP/NH",
        "amount": amount,
        "mode": policy["mode"],
        "decision": {},
        "attempts": 0,
        "created_at": at,
        "rev": 0,
    }


# the budget


def test_the_budget_stops_the_run_at_the_first_subject_it_cannot_pay(
    store: MemoryPolicyStore,
) -> None:
    policy = publish(store, budget=2600)
    for name, price in (("a", 1000), ("b", 1000), ("c", 1500), ("d", 500)):
        subject(store, name, price)

    report = run(store, policy)
    assert report["offered"] == 2
    # d's 500 would still fit, but the run stopped at c: who is paid does not depend on
    # amounts further down the documented order.
    assert [(u["subject"], u["reason"]) for u in report["unpaid"]] == [
        ("p_c", "budget_exhausted"),
        ("p_d", "budget_exhausted"),
    ]
    assert report["budget_reserved"] == 2000
    assert told(store, "unfunded") == ["p_c", "p_d"]

    again = run(store, policy)
    assert [u["subject"] for u in again["unpaid"]] == ["p_c", "p_d"]
    assert told(store, "unfunded") == ["p_c", "p_d"]  # told once, not at every run
    assert ledger(store, policy)["reconciled"] is True


def test_money_given_back_pays_those_waiting_first(store: MemoryPolicyStore) -> None:
    policy = publish(store, budget=2600)
    for name, price in (("a", 1000), ("b", 1000), ("c", 1500), ("d", 500)):
        subject(store, name, price)
    run(store, policy)

    declined = respond(store, "aids:once:p_b", accept=False)
    assert declined["status"] == "declined"
    assert ledger(store, policy)["reserved_in_budget"] == 1000  # b's 1000 went back

    report = run(store, policy)
    assert report["funded_late"] == 1
    assert states(store, policy) == {
        "p_a": "offered",
        "p_b": "declined",
        "p_c": "offered",  # waited longest: funded first, 2500 of 2600
        "p_d": "unfunded",  # 3000 would pass the budget
    }
    assert told(store, "offered") == ["p_c"]  # told to wait, now told to confirm
    assert ledger(store, policy)["reconciled"] is True


# a period's payout once


def test_a_period_is_paid_once_and_the_next_one_again(store: MemoryPolicyStore) -> None:
    policy = publish(store, mode="auto", period="monthly")
    subject(store, "li", 1000)
    partner = Partner()
    assert run(store, policy, partner, period="2026-10")["paid"] == 1
    assert run(store, policy, partner, period="2026-10")["paid"] == 0
    assert run(store, policy, partner, period="2026-11")["paid"] == 1
    assert partner.asked == ["aids:2026-10:p_li", "aids:2026-11:p_li"]
    with pytest.raises(InvalidInput):  # a month that has not begun is not paid ahead
        run(store, policy, partner, period="2026-12")
    assert ledger(store, policy)["by_state"] == {"paid": {"count": 2, "amount": 2000}}


# settlement


def test_an_automatic_payout_is_paid_once(store: MemoryPolicyStore) -> None:
    policy = publish(store, mode="auto")
    subject(store, "li", 1000)
    partner = Partner("paid")
    assert run(store, policy, partner)["paid"] == 1
    paid = store.load_payout("aids:once:p_li")
    assert paid is not None
    assert (paid["status"], paid["payment_id"]) == ("paid", "pay_aids:once:p_li")
    assert payouts.retry_failed(store, NOW + timedelta(days=1), partner) == 0
    assert partner.asked == ["aids:once:p_li"]
    assert ledger(store, policy)["paid"] == 1000


def test_an_accepted_payment_is_settled_by_the_partner_s_callback(
    store: MemoryPolicyStore,
) -> None:
    policy = publish(store, mode="auto")
    subject(store, "li", 1000)
    assert run(store, policy, Partner("accepted"))["disbursing"] == 1
    news = {
        "payout_id": "aids:once:p_li",
        "payment_id": "pay_aids:once:p_li",
        "status": "paid",
        "amount": 1000,
    }
    with pytest.raises(Conflict):
        payouts.settle(store, NOW, {**news, "amount": 999})
    with pytest.raises(Conflict):
        payouts.settle(store, NOW, {**news, "payment_id": "pay_other"})
    assert store.load_payout("aids:once:p_li")["status"] == "disbursing"  # type: ignore[index]
    assert payouts.settle(store, NOW, news)["status"] == "paid"
    again = payouts.settle(store, NOW, news)  # the same callback twice
    assert again == payouts.view(store.load_payout("aids:once:p_li"))  # type: ignore[arg-type]
    assert ledger(store, policy)["by_state"] == {"paid": {"count": 1, "amount": 1000}}


def test_a_failed_payment_is_retried_with_backoff_then_flagged(store: MemoryPolicyStore) -> None:
    policy = publish(store, mode="auto")
    subject(store, "li", 1000)
    partner = Partner("failed")
    assert run(store, policy, partner)["failed"] == 1
    failed = store.load_payout("aids:once:p_li")
    assert failed is not None
    assert (failed["attempts"], failed["retry_at"]) == (1, NOW + timedelta(minutes=2))
    assert payouts.retry_failed(store, NOW + timedelta(minutes=1), partner) == 0  # not yet

    at = NOW
    for attempt in range(2, payouts.MAX_ATTEMPTS + 1):
        at += timedelta(minutes=2**attempt)
        assert payouts.retry_failed(store, at, partner) == 1
    flagged = store.load_payout("aids:once:p_li")
    assert flagged is not None
    assert (flagged["attempts"], flagged["flagged"]) == (payouts.MAX_ATTEMPTS, True)
    assert payouts.retry_failed(store, at + timedelta(days=1), partner) == 0  # staff decide
    assert len(partner.asked) == payouts.MAX_ATTEMPTS
    assert ledger(store, policy)["reserved_in_budget"] == 1000  # still reserved for it


def test_a_confirmed_offer_is_paid_and_cannot_be_answered_twice(store: MemoryPolicyStore) -> None:
    policy = publish(store)
    subject(store, "li", 1000)
    run(store, policy)
    partner = Partner("paid")
    assert respond(store, "aids:once:p_li", accept=True, partner=partner)["status"] == "paid"
    with pytest.raises(Conflict):
        respond(store, "aids:once:p_li", accept=False)
    assert partner.asked == ["aids:once:p_li"]
    assert ledger(store, policy)["paid"] == 1000


def test_an_offer_left_unanswered_expires_and_its_money_goes_back(
    store: MemoryPolicyStore,
) -> None:
    policy = publish(store, budget=1000)
    subject(store, "li", 1000)
    subject(store, "wang", 1000)
    run(store, policy)
    assert states(store, policy) == {"p_li": "offered", "p_wang": "unfunded"}
    late = NOW + timedelta(days=payouts.OFFER_DAYS, minutes=1)
    with pytest.raises(Conflict) as refused:
        respond(store, "aids:once:p_li", accept=True, at=late)
    assert refused.value.extra.get("state") == "expired"
    assert ledger(store, policy)["reserved_in_budget"] == 0

    report = run(store, policy, at=late)  # the money that came back pays who waited
    assert report["funded_late"] == 1
    assert states(store, policy) == {"p_li": "expired", "p_wang": "offered"}


def test_the_sweep_expires_offers_nobody_answered(store: MemoryPolicyStore) -> None:
    policy = publish(store)
    subject(store, "li", 1000)
    subject(store, "wang", 2000)
    run(store, policy)
    respond(store, "aids:once:p_wang", accept=True, partner=Partner("accepted"))
    payouts.sweep(store, NOW + timedelta(days=payouts.OFFER_DAYS, minutes=1), Partner())
    assert states(store, policy) == {"p_li": "expired", "p_wang": "paid"}
    assert ledger(store, policy)["reserved_in_budget"] == 2000  # li's 1000 went back
