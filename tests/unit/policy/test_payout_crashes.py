"""Payout runs under crashes, stalls and takeovers (through the store's interface, in
memory): each test names the invariant it attacks (paid once, the budget to the fen and
nothing locked for good, the run's order, the lease). A crash is simulated two ways: an
error the run sees (it gives its block back) and a kill (nothing of the run happens after
the crash point: ``Killed`` is a BaseException and the killed holder never ends its lease)."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest

from services.common.access import acting_as
from services.common.document import Document
from services.common.errors import Conflict
from services.policy import access, payouts
from tests.unit.policy.memory_store import MemoryPolicyStore
from tests.unit.policy.test_payouts import (
    NOW,
    STAFF,
    Partner,
    ledger,
    payouts_left,
    publish,
    respond,
    run,
    states,
    subject,
)
from tests.unit.policy.working import work

LATER = NOW + payouts.TAKEOVER_AFTER + timedelta(seconds=1)


class Killed(BaseException):
    """The process died here: nothing after this point of the run happens."""


@pytest.fixture
def store() -> MemoryPolicyStore:
    return MemoryPolicyStore()


@contextmanager
def killed_at(
    store: MemoryPolicyStore, method: str, when: Callable[..., bool] = lambda *a, **k: True
) -> Iterator[None]:
    """``store.method`` kills the run the first time ``when(*args)`` holds (before the call
    does anything); the killed run's ``end_run`` never happens."""
    real = getattr(store, method)
    real_end = store.end_run
    fired: list[bool] = []

    def dying(*args: Any, **kwargs: Any) -> Any:
        if not fired and when(*args, **kwargs):
            fired.append(True)
            raise Killed(method)
        return real(*args, **kwargs)

    setattr(store, method, dying)
    store.end_run = lambda code, holder: None  # type: ignore[method-assign]
    try:
        with pytest.raises(Killed):
            yield
    finally:
        setattr(store, method, real)
        store.end_run = real_end  # type: ignore[method-assign]
    assert fired


@contextmanager
def failing_at(
    store: MemoryPolicyStore, method: str, when: Callable[..., bool] = lambda *a, **k: True
) -> Iterator[None]:
    """``store.method`` raises an ordinary error (the database went away) the first time
    ``when(*args)`` holds; the run sees it (its finally/except runs)."""
    real = getattr(store, method)
    fired: list[bool] = []

    def broken(*args: Any, **kwargs: Any) -> Any:
        if not fired and when(*args, **kwargs):
            fired.append(True)
            raise OSError(f"{method}: the database went away")
        return real(*args, **kwargs)

    setattr(store, method, broken)
    try:
        with pytest.raises(OSError, match="the database went away"):
            yield
    finally:
        setattr(store, method, real)
    assert fired


def is_release(code: str, budget: Any, key: str, *rest: Any) -> bool:
    return key.endswith(":release")


def over_budget(store: MemoryPolicyStore, code: str, budget: int | None) -> bool:
    """Whether the chain's running total ever passed the budget, or what payouts holding an
    entry reserve passes it."""
    if budget is None:
        return False
    chain = [e for e in store._all("budget_chain") if e["code"] == code]
    held = sum(
        int(p["amount"])
        for p in store.payouts_of(code)
        if p.get("budget_entry") is not None and p["status"] not in payouts.RELEASED
    )
    return any(e["total"] > budget for e in chain) or held > budget


def funded(store: MemoryPolicyStore, policy: Document) -> set[str]:
    return {
        s for s, st in states(store, policy).items() if st not in ("unfunded", "new", "reserving")
    }


# 4 / 2: an exception between reserve_block and the release entry, with finally: end_run


def test_an_insert_that_fails_after_the_block_was_reserved_leaves_no_money_locked(
    store: MemoryPolicyStore,
) -> None:
    policy = publish(store, budget=2000)
    for name in ("a", "b"):
        subject(store, name, 1000)
    with failing_at(store, "insert_payouts"):
        run(store, policy)
    report = run(store, policy)  # the lease was freed: no takeover, no give-back
    assert states(store, policy) == {"p_a": "offered", "p_b": "offered"}, report["unpaid"]
    assert ledger(store, policy)["reconciled"] is True


def test_a_release_entry_that_fails_leaves_no_money_locked(store: MemoryPolicyStore) -> None:
    """a's payout is there (an earlier run); the block counts it, its share must go back."""
    policy = publish(store, budget=2000)
    subject(store, "a", 1000)
    run(store, policy)  # a offered, chain 1000
    subject(store, "b", 1000)
    with failing_at(store, "reserve_budget", is_release):
        run(store, policy)  # block [a, b] reserves 2000? no: only a fits (1000+1000)
    # the block held a's 1000 a second time and the release never came
    run(store, policy)
    assert states(store, policy) == {"p_a": "offered", "p_b": "offered"}
    assert ledger(store, policy)["reconciled"] is True


def test_a_release_entry_that_fails_with_room_for_both_leaves_no_money_locked(
    store: MemoryPolicyStore,
) -> None:
    policy = publish(store, budget=3000)
    subject(store, "a", 1000)
    run(store, policy)  # a offered, chain 1000
    subject(store, "b", 1000)
    with failing_at(store, "reserve_budget", is_release):
        run(store, policy)  # block [a, b] holds 2000 (a's share twice), b inserted offered
    assert ledger(store, policy)["reconciled"] is True


# kills (the lease stays, stale): the takeover gives back


def test_killed_after_reserving_a_block_the_takeover_gives_it_back(
    store: MemoryPolicyStore,
) -> None:
    policy = publish(store, budget=2000)
    for name in ("a", "b", "c"):
        subject(store, name, 1000)
    with killed_at(store, "insert_payouts"):
        run(store, policy)
    with pytest.raises(Conflict):
        run(store, policy)  # live lease
    run(store, policy, at=LATER)
    assert states(store, policy) == {"p_a": "offered", "p_b": "offered", "p_c": "unfunded"}
    assert ledger(store, policy)["reconciled"] is True


def test_killed_before_the_release_entry_the_takeover_gives_the_share_back(
    store: MemoryPolicyStore,
) -> None:
    policy = publish(store, budget=3000)
    subject(store, "a", 1000)
    run(store, policy)
    subject(store, "b", 1000)
    subject(store, "c", 1000)
    with killed_at(store, "reserve_budget", is_release):
        run(store, policy)
    run(store, policy, at=LATER)
    assert states(store, policy) == {"p_a": "offered", "p_b": "offered", "p_c": "offered"}
    assert ledger(store, policy)["reconciled"] is True
    assert not over_budget(store, "aids", 3000)


def test_killed_between_blocks_nothing_is_made_or_reserved_twice(
    store: MemoryPolicyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(payouts, "CREATED_AT_ONCE", 2)
    policy = publish(store, budget=3500)
    for n in range(5):
        subject(store, f"s{n}", 1000)
    renewals: list[str] = []

    def second_block(code: str, holder: str, now: datetime, block: Any) -> bool:
        renewals.append(block)
        return len(renewals) == 2

    with killed_at(store, "renew_run", second_block):
        run(store, policy)
    assert ledger(store, policy)["reconciled"] is True
    run(store, policy, at=LATER)
    assert funded(store, policy) == {"p_s0", "p_s1", "p_s2"}
    assert ledger(store, policy)["reconciled"] is True


def test_killed_while_funding_in_turn_the_reserving_payout_is_recovered_once(
    store: MemoryPolicyStore,
) -> None:
    """A payout there already sits in the block, so b (left unfunded by the block) is funded
    in turn; the run dies between b's chain entry and b's move to offered."""
    policy = publish(store, budget=2000)
    subject(store, "a", 1000)
    run(store, policy)
    subject(store, "b", 1000)
    with killed_at(store, "advance_payout", lambda p, u, *a: u["$set"]["status"] == "offered"):
        run(store, policy)
    assert store.load_payout("aids:once:p_b")["status"] == "reserving"  # type: ignore[index]
    run(store, policy, at=LATER)
    assert states(store, policy) == {"p_a": "offered", "p_b": "offered"}
    assert ledger(store, policy)["reconciled"] is True
    assert not over_budget(store, "aids", 2000)


# the lease without a fencing token: a holder that is slow, not dead


def test_a_slow_holder_cannot_insert_funded_payouts_after_the_takeover_gave_its_block_back(
    store: MemoryPolicyStore,
) -> None:
    """A reserves [a, b] (2000 of 2000) and stalls before its insert; B takes the stale lease
    and gives the block back (the payouts do not exist yet). A wakes and inserts a and b
    funded with entry 0: they hold money that is back in the budget, so c is funded later
    and 3000 is offered on a 2000 budget."""
    policy = publish(store, budget=2000)
    for name in ("a", "b", "c"):
        subject(store, name, 1000)
    real = store.insert_payouts
    once: list[bool] = []

    def stalled(documents: Any) -> set[str]:
        if not once:
            once.append(True)
            lease = store.take_run("aids", "run_B", LATER, LATER - payouts.TAKEOVER_AFTER)
            assert lease is not None
            assert lease["left"]["block"]
            # B starts as run() does: it gives back what A's block recorded
            payouts._give_back(store, LATER, policy, lease["left"]["block"])
            store.end_run("aids", "run_B")  # B stops here (or later: same money)
        return real(documents)

    store.insert_payouts = stalled  # type: ignore[method-assign,assignment]
    run(store, policy)
    store.insert_payouts = real  # type: ignore[method-assign]
    run(store, policy, at=LATER + timedelta(seconds=1))
    assert not over_budget(store, "aids", 2000), states(store, policy)
    assert ledger(store, policy)["reconciled"] is True


def test_a_slow_holder_does_not_give_back_a_block_share_the_takeover_gave_back_already(
    store: MemoryPolicyStore,
) -> None:
    """A reserves its block and stalls before its insert; B takes over, gives the block back
    and runs to the end (inserting everyone). A wakes: every payout is there, so it gives
    the block's share back a second time."""
    policy = publish(store, budget=2000)
    for name in ("a", "b", "c"):
        subject(store, name, 1000)
    real = store.insert_payouts
    once: list[bool] = []

    def stalled(documents: Any) -> set[str]:
        if not once:
            once.append(True)
            run(store, policy, at=LATER)  # B: the whole run while A sleeps
        return real(documents)

    store.insert_payouts = stalled  # type: ignore[method-assign,assignment]
    run(store, policy)  # A: wakes, all duplicates
    store.insert_payouts = real  # type: ignore[method-assign]
    assert ledger(store, policy)["reserved_in_budget"] == 2000
    assert ledger(store, policy)["reconciled"] is True
    run(store, policy, at=LATER + timedelta(seconds=1))
    assert not over_budget(store, "aids", 2000), states(store, policy)


def test_a_taken_over_run_stops_at_its_next_block(
    store: MemoryPolicyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(payouts, "CREATED_AT_ONCE", 2)
    policy = publish(store, mode="auto")
    for n in range(4):
        subject(store, f"s{n}", 1000)
    partner = Partner()
    taken: list[Document] = []

    def slow_partner(payout: Document) -> tuple[str, str]:
        if not taken:
            lease = store.take_run("aids", "run_B", LATER, LATER - payouts.TAKEOVER_AFTER)
            assert lease is not None
            taken.append(lease)
        return partner(payout)

    with pytest.raises(Conflict):
        run(store, policy, slow_partner)  # type: ignore[arg-type]
    assert sorted(states(store, policy)) == ["p_s0", "p_s1"]  # the second block not written
    assert store._get("payout_runs", "aids")["holder"] == "run_B"  # type: ignore[index]
    store.end_run("aids", "run_A")  # a loser's end_run frees nothing
    assert store._get("payout_runs", "aids")["holder"] == "run_B"  # type: ignore[index]
    assert partner.asked == ["aids:once:p_s0", "aids:once:p_s1"]


# 5: auto mode


def test_auto_payouts_inserted_but_not_sent_are_paid_by_the_next_run_once(
    store: MemoryPolicyStore,
) -> None:
    policy = publish(store, mode="auto", budget=5000)
    for name in ("a", "b", "c"):
        subject(store, name, 1000)
    partner = Partner()
    calls: list[str] = []

    def dies_first(payout: Document) -> tuple[str, str]:
        calls.append(payout["_id"])
        raise OSError("the partner timed out")

    with pytest.raises(OSError, match="timed out"):
        run(store, policy, dies_first)  # type: ignore[arg-type]
    assert set(states(store, policy).values()) == {"disbursing"}
    report = run(store, policy, partner)
    assert states(store, policy) == {"p_a": "paid", "p_b": "paid", "p_c": "paid"}
    assert sorted(partner.asked) == ["aids:once:p_a", "aids:once:p_b", "aids:once:p_c"]
    assert report["paid"] == 3
    assert ledger(store, policy)["reconciled"] is True
    assert run(store, policy, partner)["paid"] == 0
    assert len(partner.asked) == 3


def test_auto_payouts_of_a_killed_run_are_paid_once_after_the_takeover(
    store: MemoryPolicyStore,
) -> None:
    policy = publish(store, mode="auto", budget=2500)
    for name in ("a", "b", "c"):
        subject(store, name, 1000)
    with killed_at(store, "advance_payout"):
        run(store, policy)  # dies at the first move to paid, after disburse was asked
    partner = Partner()
    run(store, policy, partner, at=LATER)
    assert states(store, policy) == {"p_a": "paid", "p_b": "paid", "p_c": "unfunded"}
    assert sorted(partner.asked) == ["aids:once:p_a", "aids:once:p_b"]  # same key: idempotent
    assert ledger(store, policy)["reconciled"] is True


# 3: order


def test_a_payout_there_already_after_the_cut_is_not_funded_before_an_earlier_subject(
    store: MemoryPolicyStore,
) -> None:
    """c's payout is there in state ``new`` (a run stopped before funding it, the docstring's
    case 1). Budget 1500: a (1000) fits, b (1000) does not: the run must stop at b. c (500)
    sits after b in the order, yet is funded."""
    policy = publish(store, budget=1500)
    for name, price in (("a", 1000), ("b", 1000), ("c", 500)):
        subject(store, name, price)
    store.insert_payouts([{**payouts_left(policy, "p_c", 500, NOW), "status": "new"}])
    run(store, policy)
    assert states(store, policy) == {"p_a": "offered", "p_b": "unfunded", "p_c": "unfunded"}


def _reference(
    order: list[str], amounts: dict[str, int], budget: int | None, room_used: int, settled: set[str]
) -> set[str]:
    """Who a run funds: in order, skipping settled ones, stopping at the first that does not
    fit."""
    total, chosen = room_used, set()
    for s in order:
        if s in settled:
            continue
        if budget is not None and total + amounts[s] > budget:
            break
        total += amounts[s]
        chosen.add(s)
    return chosen


@pytest.mark.parametrize("seed", range(120))
def test_random_runs_declines_and_new_subjects_keep_order_budget_and_ledger(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    rnd = random.Random(seed)
    monkeypatch.setattr(payouts, "CREATED_AT_ONCE", rnd.choice([1, 2, 3, 5, 200]))
    store = MemoryPolicyStore()
    budget = rnd.choice([None, 1000, 2500, 4000, 6000])
    policy = publish(store, budget=budget)
    amounts: dict[str, int] = {}

    def add(k: int) -> None:
        for _ in range(k):
            name = f"s{len(amounts):02d}_{rnd.randint(0, 99):02d}"
            amounts[f"p_{name}"] = rnd.choice([100, 500, 1000, 1500])
            subject(store, name, amounts[f"p_{name}"])

    add(rnd.randint(1, 8))
    transitions: list[tuple[str, str]] = []
    real_advance = store.advance_payout

    def watched(payout: Document, update: Document, *a: Any, **k: Any) -> Document:
        before = store.load_payout(payout["_id"])
        moved = real_advance(payout, update, *a, **k)
        transitions.append((before["status"], moved["status"]))  # type: ignore[index]
        return moved

    store.advance_payout = watched  # type: ignore[method-assign]
    at = NOW
    for _round in range(3):
        existing = {p["subject"]: p for p in store.payouts_of("aids")}
        waiting = sorted(s for s, p in existing.items() if p["status"] == "unfunded")
        order = waiting + sorted(s for s in amounts if s not in waiting)
        settled = {s for s, p in existing.items() if p["status"] != "unfunded"}
        used = store.reserved_budget("aids")
        expected = _reference(order, amounts, budget, used, settled) | settled
        run(store, policy, at=at)
        got = funded(store, policy)
        assert got == expected, (seed, order, amounts, budget, states(store, policy))
        assert ledger(store, policy)["reconciled"] is True
        assert not over_budget(store, "aids", budget)
        # money comes back, new subjects come in
        for s, st in sorted(states(store, policy).items()):
            if st == "offered" and rnd.random() < 0.3:
                respond(store, f"aids:once:{s}", accept=False, at=at)
        add(rnd.randint(0, 3))
        at += timedelta(minutes=5)
    allowed = {
        ("new", "reserving"), ("new", "unfunded"), ("unfunded", "reserving"),
        ("unfunded", "unfunded"), ("reserving", "reserving"), ("reserving", "offered"),
        ("reserving", "disbursing"), ("reserving", "unfunded"), ("offered", "declined"),
        ("offered", "disbursing"), ("offered", "expired"), ("disbursing", "paid"),
        ("disbursing", "failed"), ("disbursing", "disbursing"), ("failed", "disbursing"),
    }  # fmt: skip
    assert set(transitions) <= allowed


@pytest.mark.parametrize("seed", range(120))
def test_random_kills_then_takeover_never_pay_twice_and_reconcile(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run killed at a random store call, then a run after the takeover delay: each
    subject's payout once, paid once, the ledger reconciled, the budget held."""
    rnd = random.Random(1000 + seed)
    monkeypatch.setattr(payouts, "CREATED_AT_ONCE", rnd.choice([1, 2, 3]))
    store = MemoryPolicyStore()
    budget = rnd.choice([None, 1500, 3000])
    mode = rnd.choice(["auto", "confirm"])
    policy = publish(store, mode=mode, budget=budget)
    names = [f"s{n}" for n in range(rnd.randint(2, 7))]
    for name in names:
        subject(store, name, rnd.choice([500, 1000]))
    if rnd.random() < 0.5:  # an earlier run paid some
        run(store, policy, at=NOW - timedelta(hours=1))
    for name in names[-2:]:
        subject(store, f"{name}x", 500)
    method = rnd.choice(
        ["reserve_block", "insert_payouts", "reserve_budget", "advance_payout", "renew_run"]
    )
    count = [0]
    nth = rnd.randint(1, 4)

    def nth_call(*a: Any, **k: Any) -> bool:
        count[0] += 1
        return count[0] == nth

    partner = Partner()
    real, real_end = getattr(store, method), store.end_run

    def dying(*a: Any, **k: Any) -> Any:
        if nth_call(*a, **k):
            raise Killed(method)
        return real(*a, **k)

    setattr(store, method, dying)
    store.end_run = lambda code, holder: None  # type: ignore[method-assign]
    try:
        run(store, policy, partner)
    except Killed:
        pass
    finally:
        setattr(store, method, real)
        store.end_run = real_end  # type: ignore[method-assign]
    if count[0] < nth:
        return  # the run never reached that call: nothing to test
    run(store, policy, partner, at=LATER)
    run(store, policy, partner, at=LATER + timedelta(minutes=2))  # a stale reserving one
    assert ledger(store, policy)["reconciled"] is True, (seed, method, nth)
    assert not over_budget(store, "aids", budget)
    paid_ids = [p for p in partner.asked]
    # each payout sent at most twice (once by the killed run, once by the recovery)
    assert all(paid_ids.count(p) <= 2 for p in paid_ids)
    assert not [s for s, st in states(store, policy).items() if st in ("new", "reserving")]


# the lease's clock


def test_a_run_that_renewed_its_lease_a_moment_ago_is_not_taken_over(
    store: MemoryPolicyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A long run (auto mode: the partner is asked once per payout, over HTTP) renews its
    lease by the clock: 61 s in, having renewed at its last block, it is not silent since
    its start, and a second run is refused."""
    monkeypatch.setattr(payouts, "CREATED_AT_ONCE", 1)
    policy = publish(store, mode="auto")
    for n in range(3):
        subject(store, f"s{n}", 1000)
    seen: list[Any] = []
    clock = [NOW]

    def slow(payout: Document) -> tuple[str, str]:
        clock[0] = LATER if payout["_id"] == "aids:once:p_s1" else clock[0]  # a slow partner
        if payout["_id"] == "aids:once:p_s2":  # the third block, renewed just now
            seen.append(store.take_run("aids", "run_B", LATER, LATER - payouts.TAKEOVER_AFTER))
        return "paid", f"pay_{payout['_id']}"

    guard = acting_as(access.TABLE, "run_payouts", STAFF)
    payouts.run(work(store, guard, NOW, slow, clock=lambda: clock[0]), policy["_id"], "once")
    assert seen == [None]  # a live run is not taken over
    assert states(store, policy) == {"p_s0": "paid", "p_s1": "paid", "p_s2": "paid"}


def test_payouts_a_slow_run_funds_after_a_takeover_keep_their_decision_record(
    store: MemoryPolicyStore,
) -> None:
    """The takeover writes placeholders (no decision record) for the stalled run's block;
    the stalled run then meets them as payouts already there and funds them itself: each
    still gets the record of why."""
    policy = publish(store, budget=3000)
    for name in ("a", "b"):
        subject(store, name, 1000)
    real = store.insert_payouts
    once: list[bool] = []

    def stalled(documents: Any) -> set[str]:
        if not once:
            once.append(True)
            lease = store.take_run("aids", "run_B", LATER, LATER - payouts.TAKEOVER_AFTER)
            assert lease is not None
            assert lease["left"]["block"]
            payouts._give_back(store, LATER, policy, lease["left"]["block"])
            store.end_run("aids", "run_B")
        return real(documents)

    store.insert_payouts = stalled  # type: ignore[method-assign,assignment]
    run(store, policy)
    store.insert_payouts = real  # type: ignore[method-assign]
    run(store, policy, at=LATER + timedelta(seconds=1))
    assert ledger(store, policy)["reconciled"] is True
    for payout in store.payouts_of("aids"):
        assert payout["status"] == "offered"
        assert payout.get("decision"), payout["_id"]


# a decline's refund is a second write: the event the decline committed makes it again


def test_a_decline_whose_refund_fails_does_not_lock_its_amount_forever(
    store: MemoryPolicyStore,
) -> None:
    policy = publish(store, budget=1000)
    subject(store, "a", 1000)
    subject(store, "b", 1000)
    run(store, policy)
    with failing_at(store, "reserve_budget", is_release):
        respond(store, "aids:once:p_a", accept=False)  # declined, the 1000 not given back
    for event in [e for e in store.events if e.name == "payout_released"] * 2:  # redelivered
        payouts.on_released(store, NOW, dict(event.payload))
    payouts.sweep(store, NOW + timedelta(days=1), Partner())
    run(store, policy, at=NOW + timedelta(days=1))
    assert states(store, policy) == {"p_a": "declined", "p_b": "offered"}
    assert ledger(store, policy)["reconciled"] is True
