"""Keeping matches current: a published policy is matched against every subject of its kind
(batch); a changed fact re-matches only that subject, and only against the policies that read
the fact (incremental). Newly eligible subjects of pushed policies get an inbox message."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from pymongo.database import Database

from services.common.mongo import Document
from services.policy import catalogue, facts, inbox, matching
from services.policy.policies import in_force

SAMPLE = 20


def published(db: Database[Document], kind: str, reading: set[str] | None = None) -> list[Document]:
    return catalogue.published(db, kind, reading)


def _subjects(db: Database[Document], kind: str) -> Iterator[Document]:
    yield from db.facts.find({"kind": kind})


def _store(
    db: Database[Document],
    now: datetime,
    policy: Document,
    subject: Document,
    result: dict[str, Any],
) -> None:
    db.matches.replace_one(
        {"_id": f"{policy['_id']}:{subject['_id']}"},
        {
            "policy": policy["_id"],
            "subject": subject["_id"],
            "org_path": subject.get("org_path"),
            "eligible": result["eligible"],
            "amount": result["amount"],
            "degree": result["degree"],
            "at": now,
        },
        upsert=True,
    )


def rematch_subject(
    db: Database[Document], now: datetime, subject_id: str, changed: list[str] | None
) -> list[str]:
    """Re-match one subject; returns the codes of policies newly pushed to it."""
    subject = db.facts.find_one({"_id": subject_id})
    if subject is None or not subject.get("kind"):
        return []
    values = facts.with_derived(facts.current(subject, now), now.date())
    reads = set(changed or []) | ({"age"} if changed and "birth_date" in changed else set())
    pushed = []
    for policy in published(db, subject["kind"], reads if changed is not None else None):
        result = matching.match(policy, values, now.date())
        _store(db, now, policy, subject, result)
        if (
            result["eligible"] == "yes"
            and in_force(policy, now.date())
            and inbox.push(db, now, policy, subject_id, result["amount"])
        ):
            pushed.append(policy["code"])
    return pushed


def match_policy(db: Database[Document], now: datetime, policy: Document) -> dict[str, int]:
    """Every subject of the policy's kind, when it is published."""
    counts = {"subjects": 0, "eligible": 0, "pushed": 0}
    for subject in _subjects(db, policy["subject_type"]):
        values = facts.with_derived(facts.current(subject, now), now.date())
        result = matching.match(policy, values, now.date())
        _store(db, now, policy, subject, result)
        counts["subjects"] += 1
        if result["eligible"] == "yes":
            counts["eligible"] += 1
            counts["pushed"] += inbox.push(db, now, policy, subject["_id"], result["amount"])
    return counts


def simulate(db: Database[Document], now: datetime, policy: Document) -> dict[str, Any]:
    """A draft against today's facts: how many, how much, where, and who nearly qualifies.
    Reads only."""
    eligible = unknown = 0
    total = 0
    by_unit: dict[str, dict[str, int]] = {}
    near: list[dict[str, Any]] = []
    for subject in _subjects(db, policy["subject_type"]):
        values = facts.with_derived(facts.current(subject, now), now.date())
        result = matching.match(policy, values, now.date())
        unit = str(subject.get("org_path") or "")
        if result["eligible"] == "yes":
            eligible += 1
            amount = result["amount"] or 0
            total += amount
            bucket = by_unit.setdefault(unit, {"eligible": 0, "amount": 0})
            bucket["eligible"] += 1
            bucket["amount"] += amount
        elif result["eligible"] == "unknown":
            unknown += 1
        if result["near_miss"] and len(near) < SAMPLE:
            failing = [c for c in result["checks"] if c["met"] is not True]
            near.append({"subject": subject["_id"], "org_unit": unit, "check": failing[0]})
    budget = policy.get("budget")
    return {
        "eligible": eligible,
        "unknown": unknown,
        "total_amount": total,
        "budget": budget,
        "within_budget": None if budget is None else total <= budget,
        "by_org_unit": [{"org_unit": u, **v} for u, v in sorted(by_unit.items())],
        "near_misses": near,
    }
