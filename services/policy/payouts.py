"""No-application payouts (免申即享): one payout per (policy, subject, period), exactly once.

One run of a policy code goes at a time (it holds the code's lease, renewed batch by batch;
a second run is told one is in progress). A run walks the eligible subjects in a documented
order (those left unfunded by an earlier run first, then by subject id), 200 at a time:
1. a subject whose payout ``{code}:{period}:{subject}`` is there already (left unfunded,
   made by an earlier run, or by one that stopped) is taken on from its state, one by one:
   ``unfunded`` and ``new`` ones move to ``reserving`` (a compare-and-set: one runner only),
   reserve their amount in the budget chain, then go to ``offered`` or ``disbursing``;
2. the others are funded as a block: one chain entry reserves the longest prefix of them
   that fits the budget (listing their ids and amounts), then all are inserted at once, that
   prefix ``offered`` (confirm mode) or ``disbursing`` (auto mode) and the rest ``unfunded``
   (the budget stops the run at the first subject it cannot pay, so who is paid does not
   depend on timing). The unique ``_id`` keeps each payout once: one already there keeps its
   state, and its share of the block goes back to the budget as a negative entry;
3. ``disbursing`` payouts go to the payment partner with the payout id as idempotency key:
   ``paid``, or ``failed`` with the attempt counted and retried with backoff, then flagged.

A runner killed anywhere leaves each payout in a state the next run continues from: the run
that takes its lease over first writes every payout of the last block that is not there as
an ``unfunded`` placeholder (taking its ``_id``, so a runner that was only slow can no longer
insert it funded), then gives back what the block reserved for payouts that do not hold it
(once, by a claim), and a ``reserving`` payout is recovered by finding its chain entry, so
no amount is reserved twice. A run that fails part-way does the same for itself before it
frees the lease, or, if it cannot, leaves the lease for the takeover.

States: new → reserving → offered → (confirmed) → disbursing → paid | failed; offered →
declined | expired; unfunded → reserving (a later run, when the budget has room again).
The chain's running total is always what the payouts holding an entry reserved (the ledger
reconciles the two).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric

from services.common import outbox, proxy_acts
from services.common.codec import CITY_TIME, to_wire
from services.common.document import Document
from services.common.errors import Conflict, InvalidInput, NotFound
from services.policy import access, facts, inbox, matching, payment, periods, policies
from services.policy.amounts import chosen_row
from services.policy.store import PolicyStore
from services.policy.work import Clock, Disburse, Work

MAX_ATTEMPTS = 5
# Payouts a run funds as one block and inserts at once (an environment setting so that a
# test can stop a run of a few hundred in the middle).
CREATED_AT_ONCE = int(os.environ.get("PAYOUT_BLOCK_SIZE", "200"))
CALLBACK_WAIT = timedelta(seconds=float(os.environ.get("PAYMENT_CALLBACK_WAIT_SECONDS", "600")))
RELEASED = ("declined", "expired")  # offers whose amount went back to the budget
OFFER_DAYS = int(os.environ.get("PAYOUT_OFFER_DAYS", "30"))
# A payout left ``reserving`` this long is taken to be a stopped runner's (an environment
# setting so that tests of a killed runner need not wait a minute).
TAKEOVER_AFTER = timedelta(seconds=float(os.environ.get("PAYOUT_TAKEOVER_SECONDS", "60")))


def view(payout: Document) -> dict[str, Any]:
    return to_wire(
        {"id": payout["_id"], **{k: v for k, v in payout.items() if k not in ("_id", "rev")}}
    )


def _move(
    store: PolicyStore,
    payout: Document,
    to: str,
    now: datetime,
    *,
    events: Sequence[outbox.Event] = (),
    **fields: Any,
) -> Document | None:
    """CAS one state change; None when someone else moved it first."""
    try:
        return store.advance_payout(
            payout, {"$set": {"status": to, f"{to}_at": now, **fields}}, now, events
        )
    except Conflict:
        return None


def _eligible(
    store: PolicyStore, policy: Document, at: datetime
) -> list[tuple[Document, dict[str, Any]]]:
    """Who qualifies as of ``at`` (a period's moment), with what the decision used: each fact
    read with its source, derived ones (age) marked so, and the amount row chosen."""
    found = []
    day = at.astimezone(CITY_TIME).date()
    for subject in store.subjects_of_kind(policy["subject_type"]):
        current = facts.current(subject, at)
        values = facts.with_derived(current, day)
        result = matching.match(policy, values, day)
        if result["eligible"] == "yes" and (result["amount"] or 0) > 0:
            sources = {
                name: {
                    "value": values.get(name),
                    **(
                        {k: (subject["values"].get(name) or {}).get(k) for k in ("source", "as_of")}
                        if name in current
                        else {"source": "derived", "as_of": day.isoformat()}
                    ),
                }
                for name in policy.get("reads", [])
                if name in values
            }
            row = None
            if policy.get("amount") is not None:
                row = chosen_row(policy["amount"], values, policy["parameters"], day)
            found.append((subject, {**result, "sources": sources, "amount_row": row}))
    return sorted(found, key=lambda pair: str(pair[0]["_id"]))


def run(work: Work, policy_id: str, period: str) -> dict[str, Any]:
    """Pay ``policy_id`` for ``period`` through ``work.disburse`` (the module's docstring
    says how). ``work.clock`` reads the time as the run goes, to keep its lease (the
    service's clock); every payout's moment is ``work.now``."""
    store, now, disburse = work.store, work.now, work.disburse
    current = policies.get_guarded(work, policy_id)
    if current["status"] != "published":
        raise Conflict("only a published policy pays", state=current["status"])
    if current["mode"] not in ("confirm", "auto"):
        raise Conflict("this policy informs; it does not pay", field="mode")
    period = periods.validate_period(current, period)
    # A period is paid by the rules (version, parameters, amounts) in force in it, whose
    # effective dates it must meet; the money (budget) and the way it is paid (mode) are the
    # current version's.
    rules = policies.version_at(store, current, periods.evaluated_at(current, period, now, False))
    at = periods.evaluated_at(rules, period, now)
    policy = {**rules, "budget": current.get("budget"), "mode": current["mode"]}
    with_run = f"{policy['code']}:{period}"
    report: dict[str, Any] = {
        "run": with_run,
        "policy": current["_id"],
        "rules_version": rules["version"],
        "period": period,
        "eligible": 0,
        "created": 0,
        "paid": 0,
        "offered": 0,
        "disbursing": 0,  # accepted by the payment partner; its callback settles them
        "failed": 0,
        "settled_before": 0,
        "funded_late": 0,  # unfunded by an earlier run, funded by this one
        "unpaid": [],
        "in_progress": [],
    }
    holder = f"run_{secrets.token_hex(8)}"
    taken = store.take_run(policy["code"], holder, now, now - TAKEOVER_AFTER)
    if taken is None:
        raise Conflict(
            "a payout run of this policy is in progress", state="running", code="run_in_progress"
        )
    lease = Lease(store, policy["code"], holder, work.clock)
    blocks: list[str] = []  # the blocks this run reserved, the last one perhaps unsettled
    try:
        if taken["left"] is not None and taken["left"].get("block"):
            _give_back(store, now, policy, taken["left"]["block"])
        _walk(store, now, at, policy, period, lease, disburse, report, blocks)
    except Exception:
        _stopped(store, now, policy, holder, blocks)
        raise
    store.end_run(policy["code"], holder)
    report["budget_reserved"] = store.reserved_budget(policy["code"])
    report["budget"] = policy.get("budget")
    return report


def _carry(
    store: PolicyStore,
    now: datetime,
    policy: Document,
    payout: Document,
    exhausted: bool,
    disburse: Disburse,
    report: dict[str, Any],
) -> bool:
    """Take one of the run's payouts as far as it goes now (funded, offered or paid) and
    count it in ``report``; whether the budget is exhausted from here on."""
    report["eligible"] += 1
    before = payout["status"]
    payout = _fund(store, now, policy, payout, exhausted)
    if payout["status"] in ("new", "reserving"):
        report["in_progress"].append(payout["subject"])  # another runner holds it now
        return exhausted
    told_to_wait = before == "unfunded" and payout.get("reason") != "run_stopped"
    if told_to_wait and payout["status"] != "unfunded":
        report["funded_late"] += 1  # the money appeared: paid in the run's order
        if payout["status"] == "offered":
            inbox.tell(store, now, policy, payout, "offered")  # told to wait: now told to act
    if payout["status"] == "unfunded":
        inbox.tell(store, now, policy, payout, "unfunded")  # once per payout
        report["unpaid"].append(
            {
                "subject": payout["subject"],
                "amount": payout["amount"],
                "reason": payout.get("reason"),
            }
        )
        return exhausted or payout.get("reason") == "budget_exhausted"
    if payout["status"] in ("disbursing", "failed"):
        payout = pay(store, now, payout, disburse)
    if payout["status"] == before and before not in ("new", "reserving"):
        report["settled_before"] += 1  # paid, offered, declined … by an earlier run
    elif payout["status"] in ("paid", "offered", "disbursing", "failed"):
        report[payout["status"]] += 1
    return exhausted


class Lease:
    """A run's hold on its policy code: renewed by the clock (the run's ``now`` stays the
    moment it started), at each block and, while one block's payouts take long (the payment
    partner answers each), whenever a third of the takeover delay has passed."""

    def __init__(self, store: PolicyStore, code: str, holder: str, clock: Clock) -> None:
        self.store, self.code, self.holder, self.clock = store, code, holder, clock
        self.renewed = clock()
        self.block: str | None = None

    def renew(self, block: str | None = None) -> None:
        """Renew, recording ``block`` (the one about to be reserved) when given."""
        self.block = block or self.block
        now = self.clock()
        if not self.store.renew_run(self.code, self.holder, now, self.block):
            raise Conflict("this payout run was taken over by another; see its report")
        self.renewed = now

    def keep(self) -> None:
        if self.clock() - self.renewed >= TAKEOVER_AFTER / 3:
            self.renew()


def _walk(
    store: PolicyStore,
    now: datetime,
    at: datetime,
    policy: Document,
    period: str,
    lease: Lease,
    disburse: Disburse,
    report: dict[str, Any],
    blocks: list[str],
) -> None:
    """The eligible subjects in the run's order, ``CREATED_AT_ONCE`` at a time: those whose
    payout is there already (left unfunded, or made by an earlier run) taken on one by one,
    the others funded as a block and inserted at once, then each taken as far as it goes in
    the same order."""
    code = policy["code"]
    waiting = store.unfunded_subjects(code, period)
    eligible = sorted(_eligible(store, policy, at), key=lambda pair: pair[0]["_id"] not in waiting)
    day = at.astimezone(CITY_TIME).date()
    exhausted = False
    for number, start in enumerate(range(0, len(eligible), CREATED_AT_ONCE)):
        chosen = [
            _payout(now, day, policy, period, subject, result)
            for subject, result in eligible[start : start + CREATED_AT_ONCE]
        ]
        for payout in [p for p in chosen if p["subject"] in waiting]:
            lease.keep()
            stored = _completed(store, now, _reload(store, payout), payout)
            exhausted = _carry(store, now, policy, stored, exhausted, disburse, report)
        fresh = [p for p in chosen if p["subject"] not in waiting]
        block = f"{code}:{period}:{lease.holder}:{number}"
        lease.renew(block)
        blocks.append(block)
        there, exhausted = _insert_block(store, now, policy, fresh, block, exhausted, report)
        for payout in fresh:  # in the run's order, whether it was there or is new
            lease.keep()
            if payout["_id"] in there:  # made by an earlier run (or one stopped half-way)
                stored = _completed(store, now, _reload(store, payout), payout)
                exhausted = _carry(store, now, policy, stored, exhausted, disburse, report)
                continue
            if payout["status"] == "unfunded" and there and not exhausted:
                # The block counted payouts that were there already and gave their share
                # back: that may pay those it left unfunded, each in its turn.
                payout = _fund(store, now, policy, _reload(store, payout), False)
                exhausted = payout["status"] == "unfunded"
            _settle_new(store, now, policy, payout, disburse, report)


def _insert_block(
    store: PolicyStore,
    now: datetime,
    policy: Document,
    payouts: list[Document],
    block: str,
    exhausted: bool,
    report: dict[str, Any],
) -> tuple[set[str], bool]:
    """Reserve one budget entry for the longest prefix of ``payouts`` that fits, then insert
    them all at once: that prefix funded (offered or disbursing), the rest unfunded. The ids
    of the payouts already there are returned (their share of the block goes back to the
    budget), with whether the budget is exhausted from here on."""
    if not payouts:
        return set(), exhausted
    n, covered = (None, 0)
    if not exhausted:
        wanted = [(p["_id"], int(p["amount"])) for p in payouts]
        n, covered = store.reserve_block(policy["code"], policy.get("budget"), block, wanted, now)
    to = "offered" if policy["mode"] == "confirm" else "disbursing"
    for i, payout in enumerate(payouts):
        if i < covered:
            payout.update({"status": to, f"{to}_at": now, "budget_entry": n})
            if to == "offered":
                payout["expires_at"] = now + timedelta(days=OFFER_DAYS)
        else:
            payout.update({"status": "unfunded", "unfunded_at": now, "reason": "budget_exhausted"})
    created = store.insert_payouts(payouts)
    report["created"] += len(created)
    there = {str(p["_id"]) for p in payouts if p["_id"] not in created}
    unheld = sum(int(p["amount"]) for p in payouts[:covered] if p["_id"] not in created)
    _refund_once(store, now, policy["code"], block, unheld)
    # Payouts that were there need no money: with one among them, whether the budget ran
    # out is for the caller to find (it funds those left unfunded in turn).
    return there, exhausted or (covered < len(payouts) and not there)


def _settle_new(
    store: PolicyStore,
    now: datetime,
    policy: Document,
    payout: Document,
    disburse: Disburse,
    report: dict[str, Any],
) -> None:
    """A payout this run inserted, taken as far as it goes now and counted in ``report``."""
    report["eligible"] += 1
    if payout["status"] == "unfunded":
        inbox.tell(store, now, policy, payout, "unfunded")
        report["unpaid"].append(
            {"subject": payout["subject"], "amount": payout["amount"], "reason": payout["reason"]}
        )
        return
    if payout["status"] == "disbursing":
        payout = pay(store, now, payout, disburse)
    if payout["status"] in ("paid", "offered", "disbursing", "failed"):
        report[payout["status"]] += 1


def _stopped(
    store: PolicyStore, now: datetime, policy: Document, holder: str, blocks: list[str]
) -> None:
    """A run that failed part-way gives back what its last block held for payouts it did
    not write, then frees the lease. If even that fails (the database is gone), the lease
    stays: once it is stale the next run takes it over and gives the block back."""
    try:
        if blocks:
            _give_back(store, now, policy, blocks[-1])
    except Exception:  # the takeover gives it back; the run's own error is the one raised
        return
    store.end_run(policy["code"], holder)


def _give_back(store: PolicyStore, now: datetime, policy: Document, block: str) -> None:
    """Settle a block its run may not have settled: every payout it lists that was never
    written is written now as ``unfunded`` (a placeholder that takes its ``_id``, so that
    the run, if it is only slow and not dead, can no longer insert it as funded), and what
    the block reserved for payouts that do not hold it goes back to the budget, once."""
    code = policy["code"]
    entry = store.chain_entry(code, block)
    if entry is None:
        return  # nothing was reserved
    listed = list(zip(entry["block"], entry["amounts"], strict=True))
    placeholders = [_placeholder(now, policy, payout_id, amount) for payout_id, amount in listed]
    written = store.insert_payouts(placeholders)
    unheld = 0
    for payout_id, amount in listed:
        payout = None if payout_id in written else store.load_payout(payout_id, {"budget_entry": 1})
        if payout is None or payout.get("budget_entry") != entry["n"]:
            unheld += int(amount)
    _refund_once(store, now, code, block, unheld)


def _placeholder(now: datetime, policy: Document, payout_id: str, amount: int) -> Document:
    """A payout a stopped run reserved and never wrote: unfunded, waiting for the next run
    to fund it in its turn and complete its decision record."""
    period, subject = payout_id[len(policy["code"]) + 1 :].rsplit(":", 1)
    return {
        "_id": payout_id,
        "policy": policy["_id"],
        "code": policy["code"],
        "version": policy["version"],
        "period": period,
        "subject": subject,
        "org_path": None,
        "amount": int(amount),
        "mode": policy["mode"],
        "status": "unfunded",
        "unfunded_at": now,
        "reason": "run_stopped",
        "decision": None,
        "attempts": 0,
        "created_at": now,
        "rev": 0,
    }


def _refund_once(store: PolicyStore, now: datetime, code: str, block: str, amount: int) -> None:
    """Give ``amount`` of ``block`` back to the budget, as the entry ``{block}:release``: the
    chain keeps one entry per name, so of the block's run and a run taking it over, who comes
    second finds it there (both compute the same amount once the block's payouts are all
    written)."""
    if amount:
        store.reserve_budget(code, None, f"{block}:release", -amount, now)


def _payout(
    now: datetime,
    day: date,
    policy: Document,
    period: str,
    subject: Document,
    result: dict[str, Any],
) -> Document:
    """The payout ``{code}:{period}:{subject}`` as a run creates it, with its decision record."""
    record = {
        **matching.decision_record(policy, result, result["sources"], day),
        "amount_row": result.get("amount_row"),
    }
    return {
        "_id": f"{policy['code']}:{period}:{subject['_id']}",
        "policy": policy["_id"],
        "code": policy["code"],
        "version": policy["version"],
        "period": period,
        "subject": subject["_id"],
        "org_path": subject.get("org_path"),
        "amount": int(result["amount"]),
        "mode": policy["mode"],
        "status": "new",
        "decision": record,
        "attempts": 0,
        "created_at": now,
        "rev": 0,
    }


def _completed(store: PolicyStore, now: datetime, stored: Document, made: Document) -> Document:
    """An unfunded placeholder a stopped run left (no decision record) given the amount and
    decision record this run made for it; any other payout as it is stored."""
    if stored["status"] != "unfunded" or stored.get("decision") is not None:
        return stored
    fields = {k: made[k] for k in ("amount", "decision", "version", "org_path")}
    try:
        return store.advance_payout(stored, {"$set": fields}, now)
    except Conflict:
        return _reload(store, stored)


def _reload(store: PolicyStore, payout: Document) -> Document:
    """The payout as stored now (after a write that may have lost a race)."""
    return store.load_payout(payout["_id"]) or payout


def _fund(
    store: PolicyStore, now: datetime, policy: Document, payout: Document, exhausted: bool
) -> Document:
    for _attempt in range(5):
        status = payout["status"]
        if status == "unfunded" and exhausted:
            return payout  # still no money for it
        if status in ("new", "unfunded"):
            # An unfunded payout is tried again by every later run, in the run's order, so
            # money that appears (a decline released, a new version's budget) pays it.
            to = "unfunded" if exhausted else "reserving"
            extra: dict[str, Any] = {"reason": "budget_exhausted"} if exhausted else {}
            moved = _move(store, payout, to, now, **extra)
            if moved is not None and to == "reserving":
                return _reserve(store, now, policy, moved)
        elif status == "reserving" and payout["reserving_at"] < now - TAKEOVER_AFTER:
            # A runner stopped between claiming and recording the reservation: take it over
            # (one taker per revision) and look for the entry it may have left.
            moved = _move(store, payout, "reserving", now, taken_over=True)
            if moved is not None:
                return _reserve(store, now, policy, moved)
        else:
            return payout  # funded already, or another runner is reserving it right now
        payout = _reload(store, payout)
    return payout


def _reserve(store: PolicyStore, now: datetime, policy: Document, payout: Document) -> Document:
    n = store.budget_entry_of(policy["code"], payout["_id"]) if payout.get("taken_over") else None
    if n is None:
        n = store.reserve_budget(
            policy["code"], policy.get("budget"), payout["_id"], int(payout["amount"]), now
        )
    if n is None:
        moved = _move(store, payout, "unfunded", now, reason="budget_exhausted")
    else:
        to = "offered" if policy["mode"] == "confirm" else "disbursing"
        extra: dict[str, Any] = {"budget_entry": n}
        if to == "offered":
            extra["expires_at"] = now + timedelta(days=OFFER_DAYS)
        moved = _move(store, payout, to, now, **extra)
    return moved or _reload(store, payout)


def pay(store: PolicyStore, now: datetime, payout: Document, disburse: Disburse) -> Document:
    """Send a disbursing (or failed, due for a retry) payout to the payment partner."""
    if payout["status"] == "failed" and (
        payout["attempts"] >= MAX_ATTEMPTS or payout.get("retry_at", now) > now
    ):
        return payout
    if (
        payout["status"] == "disbursing"
        and payout.get("accepted_at")
        and payout["accepted_at"] >= now - CALLBACK_WAIT
    ):
        return payout  # accepted: its callback is awaited, asking again would be noise
    if payout["status"] == "failed":
        retried = _move(store, payout, "disbursing", now)
        if retried is None:
            return _reload(store, payout)
        payout = retried
    outcome, detail = disburse(payout)
    attempts = int(payout.get("attempts", 0)) + 1
    if outcome == "paid":
        moved = _move(store, payout, "paid", now, payment_id=detail, attempts=attempts)
    elif outcome == "accepted":  # the partner's signed callback will settle it
        moved = _move(
            store, payout, "disbursing", now, payment_id=detail, attempts=attempts, accepted_at=now
        )
    else:
        moved = _fail(store, payout, now, detail, attempts)
    return moved or _reload(store, payout)


def _fail(
    store: PolicyStore, payout: Document, now: datetime, why: str, attempts: int
) -> Document | None:
    """Failed after ``attempts`` tries: retried after 2**attempts minutes, flagged to staff
    after ``MAX_ATTEMPTS``."""
    return _move(
        store,
        payout,
        "failed",
        now,
        failure=why,
        attempts=attempts,
        retry_at=now + timedelta(minutes=2**attempts),
        flagged=attempts >= MAX_ATTEMPTS,
    )


def respond(work: Work, payout_id: str, accept: bool) -> dict[str, Any]:
    """The subject, an operator of it, or a proxy holding ``confirm_payouts`` confirms or
    declines an offered payout (一键确认); a confirmed one is paid through ``work.disburse``."""
    store, guard, now = work.store, work.guard, work.now
    payout = store.load_payout(payout_id) if isinstance(payout_id, str) else None
    if payout is None:
        raise NotFound("no such payout")
    owner = (store.load_policy(str(payout.get("policy")), {"org_path": 1}) or {}).get("org_path")
    guard.require(access.payout(payout, owner), "no such payout")
    if payout["status"] != "offered":
        raise Conflict(f"this payout is {payout['status']}", state=payout["status"])
    if payout.get("expires_at") and payout["expires_at"] < now:
        expired = _move(store, payout, "expired", now, events=[_released(payout)])
        if expired is not None:
            release(store, now, expired)  # as the sweep would: the amount goes back
        raise Conflict("this offer has expired", state="expired")
    proxy = proxy_acts.proxy_of(guard.actor, payout["subject"])
    answer = "confirm_payout" if accept else "decline_payout"
    acts = (
        [
            proxy_acts.acted(
                payout["subject"],
                proxy,
                guard.actor,
                answer,
                payout["_id"],
                now,
                amount=payout["amount"],
            )
        ]
        if proxy
        else []
    )
    if not accept:
        moved = _move(store, payout, "declined", now, events=[*acts, _released(payout)])
        if moved is None:
            raise Conflict("this payout changed at the same time; reload")
        release(store, now, moved)
        return view(moved)
    moved = _move(store, payout, "disbursing", now, events=acts, confirmed_at=now)
    if moved is None:
        raise Conflict("this payout changed at the same time; reload")
    return view(pay(store, now, moved, work.disburse))


def mine(work: Work) -> list[dict[str, Any]]:
    """The payouts of the subjects the caller is (or acts for)."""
    return [view(p) for p in work.store.payouts_of_subjects(work.guard.mine(), 100)]


STATES: tuple[str, ...] = (
    "new",
    "reserving",
    "unfunded",
    "offered",
    "disbursing",
    "paid",
    "failed",
    "declined",
    "expired",
)


def of_policy(
    work: Work,
    policy_id: str,
    *,
    status: str | None,
    period: str | None,
    limit: int,
    offset: int,
) -> dict[str, Any]:
    """Who was and was not paid, with each decision record (the version, parameters, facts
    and their sources, the checks and the amount row used) for staff of each subject's area;
    the policy's department sees every payout, those outside its own area without the
    subject or the decision record."""
    store, guard = work.store, work.guard
    policy = policies.get(store, policy_id)
    guard.see(access.policy(policy), "no such policy")
    if status is not None and status not in STATES:
        raise InvalidInput(f"one of {', '.join(STATES)}", field="status")
    if period is not None:
        period = periods.validate_period(policy, period)
    if not 1 <= limit <= 500 or offset < 0:
        raise InvalidInput("1 to 500, from an offset ≥ 0", field="limit")
    found = store.payouts_of(policy["code"], status, period)
    seen = guard.filter(found, lambda p: access.payout(p, policy.get("org_path")))
    items = [
        view(p) if guard.allows(access.payout(p, None)) else _counted(p)
        for p in seen[offset : offset + limit]
    ]
    return {"items": items, "total": len(seen), "limit": limit}


def _counted(payout: Document) -> dict[str, Any]:
    """A payout of a subject outside the caller's area, as the policy's department sees it:
    what was paid, where and in which state, not to whom or on which facts (any unit may
    author a policy; authoring one does not open other areas' residents)."""
    shown = ("code", "version", "period", "status", "amount", "org_path")
    return to_wire({"id": payout["_id"], **{k: payout.get(k) for k in shown}, "subject": None})


def ledger(work: Work, policy_id: str) -> dict[str, Any]:
    """Totals by state and by org unit; they reconcile with the payouts and the budget chain."""
    store = work.store
    policy = policies.get_guarded(work, policy_id)
    by_state: dict[str, dict[str, int]] = {}
    by_unit: dict[str, dict[str, int]] = {}
    reserved = 0
    for payout in store.payouts_of(policy["code"]):
        state = by_state.setdefault(payout["status"], {"count": 0, "amount": 0})
        state["count"] += 1
        state["amount"] += int(payout["amount"])
        if payout["status"] == "paid":
            unit = by_unit.setdefault(str(payout.get("org_path")), {"count": 0, "amount": 0})
            unit["count"] += 1
            unit["amount"] += int(payout["amount"])
        if payout.get("budget_entry") is not None and payout["status"] not in RELEASED:
            reserved += int(payout["amount"])
    chain = store.reserved_budget(policy["code"])
    return {
        "policy": policy["_id"],
        "budget": policy.get("budget"),
        "by_state": by_state,
        "by_org_unit": [{"org_unit": u, **v} for u, v in sorted(by_unit.items())],
        "paid": by_state.get("paid", {}).get("amount", 0),
        "reserved_by_payouts": reserved,
        "reserved_in_budget": chain,
        "reconciled": reserved == chain,
    }


def settle(store: PolicyStore, now: datetime, news: dict[str, Any]) -> dict[str, Any]:
    """The payment partner's callback: the payout becomes paid (or failed, retried with
    backoff). The same callback twice changes nothing; one that contradicts what we know
    (another payment, another amount) is refused and changes nothing."""
    for _attempt in range(5):
        payout = store.load_payout(news["payout_id"])
        if payout is None:
            raise NotFound("no such payout")
        if int(news["amount"]) != int(payout["amount"]):
            raise Conflict("the amount is not the payout's", field="amount")
        known = payout.get("payment_id")
        if known is not None and known != news["payment_id"]:
            raise Conflict("another payment settles this payout", field="payment_id")
        if payout["status"] == "paid":
            return view(payout)  # said before
        if payout["status"] not in ("disbursing", "failed"):
            raise Conflict(f"this payout is {payout['status']}", state=payout["status"])
        if news["status"] == "paid":
            moved = _move(store, payout, "paid", now, payment_id=news["payment_id"])
        elif payout["status"] == "failed":
            return view(payout)
        else:
            why = "the payment partner reported a failure"
            moved = _fail(store, payout, now, why, int(payout.get("attempts", 0)))
        if moved is not None:
            return view(moved)
    raise Conflict("this payout changed at the same time; try again")


def settle_callback(work: Work, body: str, signature: str) -> dict[str, Any]:
    """The payment partner's signed callback, forwarded as received by the gateway (the
    secret stays here, with the service that signs the requests)."""
    now = work.now
    news = payment.callback(payment.secret(), signature, body.encode(), int(now.timestamp()))
    return settle(work.store, now, news)


def sweep(store: PolicyStore, now: datetime, disburse: Disburse) -> None:
    """What a timer does now and then: retries what is due (:func:`retry_failed`), then
    expires the offers nobody answered (:func:`expire_offers`)."""
    retry_failed(store, now, disburse)
    expire_offers(store, now)


def retry_failed(store: PolicyStore, now: datetime, disburse: Disburse) -> int:
    """Failed payouts whose backoff has passed, and accepted ones whose callback has not come
    in ``CALLBACK_WAIT``, asked again (the same idempotency key: the partner answers what
    became of it; a timer calls this)."""
    retried = 0
    for payout in store.failed_payouts(200):
        if payout.get("retry_at") and payout["retry_at"] <= now:
            pay(store, now, payout, disburse)
            retried += 1
    for payout in store.disbursing_payouts(200):
        if payout.get("accepted_at") and payout["accepted_at"] < now - CALLBACK_WAIT:
            pay(store, now, payout, disburse)
            retried += 1
    return retried


def expire_offers(store: PolicyStore, now: datetime) -> int:
    """Offers nobody answered in time become ``expired`` (their reservation stays recorded
    in the chain; the ledger shows them apart from what was paid)."""
    expired = 0
    for payout in store.open_offers(500):
        if payout.get("expires_at") and payout["expires_at"] < now:
            moved = _move(store, payout, "expired", now, events=[_released(payout)])
            if moved is not None:
                release(store, now, moved)
                expired += 1
    return expired


def release(store: PolicyStore, now: datetime, payout: Document) -> None:
    """Give a declined or expired offer's amount back to the budget: a negative entry at the
    end of the chain (the chain is never rewritten), once (the entry is named for the
    payout). Done at once, and again when the ``payout_released`` event the change committed
    comes back (:func:`on_released`), so a refund that failed is not lost."""
    if payout.get("budget_entry") is not None and payout["status"] in RELEASED:
        store.reserve_budget(
            payout["code"], None, f"{payout['_id']}:release", -int(payout["amount"]), now
        )


def _released(payout: Document) -> outbox.Event:
    return outbox.Event(
        "payout_released", f"payout_released:{payout['_id']}", {"payout_id": payout["_id"]}
    )


def on_released(store: PolicyStore, now: datetime, payload: dict[str, Any]) -> None:
    """A declined or expired payout's event: its refund made if it is not there yet."""
    payout = store.load_payout(str(payload.get("payout_id")))
    if payout is not None:
        release(store, now, payout)


def gauges(store: PolicyStore) -> Iterator[Metric]:
    """Payouts by state across every policy (``policy_payouts``), counted when scraped; a run
    that stalls shows as payouts held in ``new`` or ``sending``."""
    count = GaugeMetricFamily("policy_payouts", "Payouts by state", labels=["state"])
    amount = GaugeMetricFamily("policy_payouts_fen", "Payout amounts by state", labels=["state"])
    for state, n, fen in store.payouts_by_state():
        count.add_metric([state], n)
        amount.add_metric([state], fen)
    yield count
    yield amount
