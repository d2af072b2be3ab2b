"""Keeping matches current: a published policy is matched against every subject of its kind
(batch); a changed fact re-matches only that subject, and only against the policies that read
the fact (incremental). Newly eligible subjects of pushed policies get an inbox message."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from itertools import islice
from typing import Any

import numpy as np

from services.common.codec import city_day
from services.common.document import Document
from services.policy import catalogue, columnar, facts, inbox, matching, outreach, policies
from services.policy.store import PolicyStore
from services.policy.work import Work

SAMPLE = 20
SMALLEST_GROUP = 10  # of subjects outside the caller's area, told only as a group this size
CHUNK = 50_000  # subjects matched at once in a batch


def _match(
    now: datetime,
    policy: Document,
    subject: Document,
    eligible: str,
    amount: int | None,
    degree: float,
) -> Document:
    """One (policy, subject) match as it is kept (replaced whole, by its ``_id``)."""
    return {
        "_id": f"{policy['_id']}:{subject['_id']}",
        "policy": policy["_id"],
        "subject": subject["_id"],
        "org_path": subject.get("org_path"),
        "eligible": eligible,
        "amount": amount,
        "degree": degree,
        "at": now,
    }


def rematch_subject(
    store: PolicyStore,
    now: datetime,
    subject_id: str,
    changed: list[str] | None,
    subject: Document | None = None,
) -> list[str]:
    """Re-match one subject; returns the codes of policies newly pushed to it. ``subject``:
    its facts document as the write that changed it returned it (else it is read)."""
    if subject is None:
        subject = store.load_facts(subject_id)
    if subject is None or not subject.get("kind"):
        return []
    values = facts.with_derived(facts.current(subject, now), city_day(now))
    reads = set(changed or []) | ({"age"} if changed and "birth_date" in changed else set())
    pushed = []
    writes = []
    for policy in catalogue.published(
        store, subject["kind"], reads if changed is not None else None
    ):
        result = matching.match(policy, values, city_day(now))
        writes.append(
            _match(now, policy, subject, result["eligible"], result["amount"], result["degree"])
        )
        if result["eligible"] != "yes" or not policies.in_force(policy, city_day(now)):
            continue
        if outreach.automatic(policy):  # 应享未享: the responsible unit is told
            outreach.flag(store, now, policy, subject_id, subject.get("org_path"), result["amount"])
        if inbox.push(store, now, policy, subject_id, result["amount"]):
            pushed.append(policy["code"])
    store.put_matches(writes)
    return pushed


def _batches(
    store: PolicyStore, now: datetime, policy: Document
) -> Iterator[tuple[list[Document], dict[str, columnar.Column], columnar.PolicyBatch]]:
    """The policy matched against every subject of its kind, ``CHUNK`` subjects at a time
    (the batch engine: every check kept, as the scalar one would explain it)."""
    names = set(policy.get("reads", [])) | {"birth_date"}
    cursor = store.subjects_of_kind(policy["subject_type"])
    while True:
        chunk = list(islice(cursor, CHUNK))
        if not chunk:
            return
        rows = [facts.with_derived(facts.current(s, now), city_day(now)) for s in chunk]
        columns = columnar.columns_of(rows, names)
        yield chunk, columns, columnar.match_columns(policy, columns, len(chunk), city_day(now))


def match_policy(store: PolicyStore, now: datetime, policy: Document) -> dict[str, int]:
    """Every subject of the policy's kind, when it is published."""
    counts = {"subjects": 0, "eligible": 0, "pushed": 0, "unreceived": 0}
    for subjects, _columns, batch in _batches(store, now, policy):
        writes = []
        for i, subject in enumerate(subjects):
            eligible = batch.eligible_label(i)
            amount = batch.amount_of(i)
            writes.append(_match(now, policy, subject, eligible, amount, batch.degree(i)))
            if eligible == "yes":
                counts["eligible"] += 1
                counts["pushed"] += inbox.push(store, now, policy, subject["_id"], amount)
                if outreach.automatic(policy):
                    counts["unreceived"] += outreach.flag(
                        store, now, policy, subject["_id"], subject.get("org_path"), amount
                    )
        store.put_matches(writes)
        counts["subjects"] += len(subjects)
    return counts


def change_status(work: Work, policy_id: str, action: str) -> dict[str, Any]:
    """A policy's status changed (:func:`policies.change_status`); published or resumed, it
    is matched against every subject of its kind at once (``matched``: the counts)."""
    policy = policies.change_status(work, policy_id, action)
    result = policies.view(policy)
    if action in ("publish", "resume"):
        result["matched"] = match_policy(work.store, work.now, policy)
    return result


def simulate_draft(work: Work, policy_id: str) -> dict[str, Any]:
    """:func:`simulate` of a policy the caller may read, telling only what is in its reach."""
    policy = policies.get_guarded(work, policy_id)
    return simulate(work.store, work.now, policy, work.guard.within_reach)


def simulate(
    store: PolicyStore, now: datetime, policy: Document, may_read: Callable[[str], bool]
) -> dict[str, Any]:
    """A draft against today's facts: how many, how much, where, and who nearly qualifies.

    A near miss by name, with the subject's value, is listed only for subjects in the
    caller's reach (``may_read`` of the subject's org path). Of the subjects outside it only
    groups of at least ``SMALLEST_GROUP`` are told, as counts: a unit's row, a near-miss row
    and the totals say ``fewer_than`` instead of a figure when fewer of those subjects are in
    them, so a draft written to single out one resident (a birth date and a community) tells
    nothing of them. Reads only."""
    eligible = unknown = outside = 0
    total = 0
    by_unit: dict[str, dict[str, int]] = {}
    near: list[dict[str, Any]] = []
    missing: dict[tuple[str, str], int] = {}
    for subjects, columns, batch in _batches(store, now, policy):
        eligible += batch.eligible_count
        unknown += batch.unknown_count
        total += batch.total_amount
        units = np.array([str(s.get("org_path") or "") for s in subjects], dtype=object)
        paid = batch.paid
        for unit in np.unique(units[batch.true]):
            where = batch.true & (units == unit)
            bucket = by_unit.setdefault(unit, {"eligible": 0, "amount": 0})
            bucket["eligible"] += int(where.sum())
            bucket["amount"] += int(batch.amount[where & paid].sum(dtype=np.int64))
            if not may_read(str(unit)):
                outside += int(where.sum())
        for i in np.flatnonzero(batch.near_miss):
            failing = [c for c in batch.explain(int(i), columns)["checks"] if c["met"] is not True]
            key = (str(units[i]), str(failing[0]["label"]))
            missing[key] = missing.get(key, 0) + 1
            if len(near) < SAMPLE and may_read(key[0]):
                subject = subjects[i]["_id"]
                near.append({"subject": subject, "org_unit": key[0], "check": failing[0]})
    budget = policy.get("budget")
    small = 0 < outside < SMALLEST_GROUP  # the totals would tell of a few outside the area
    hidden = {"fewer_than": SMALLEST_GROUP}
    return {
        **(hidden if small else {}),
        "eligible": None if small else eligible,
        "unknown": unknown,
        "total_amount": None if small else total,
        "budget": budget,
        "within_budget": None if budget is None or small else total <= budget,
        "by_org_unit": [
            {"org_unit": u, **v}
            if may_read(u) or v["eligible"] >= SMALLEST_GROUP
            else {"org_unit": u, "eligible": None, "amount": None, **hidden}
            for u, v in sorted(by_unit.items())
        ],
        "near_misses": near,
        "near_miss_counts": [
            {"org_unit": unit, "label": label, "count": count}
            if may_read(unit) or count >= SMALLEST_GROUP
            else {"org_unit": unit, "label": label, "count": None, **hidden}
            for (unit, label), count in sorted(missing.items())
        ],
    }
