"""Explained matching (政策速配): for a subject and a policy, eligible yes / no / unknown, the
match degree (share of checks met), every check with the fact used and the value required,
near misses (one check away), and the amount it would pay."""

from __future__ import annotations

from datetime import date
from typing import Any

from services.common.document import Document
from services.policy.amounts import compute
from services.policy.rules import CheckResult, Tri, evaluate, parameter

LABELS = {True: "yes", False: "no", None: "unknown"}  # eligible, as the API says it


def match(policy: Document, facts: dict[str, Any], on: date) -> dict[str, Any]:
    checks: list[CheckResult] = []
    eligible = evaluate(policy["conditions"], facts, policy["parameters"], on, checks)
    amount = None
    if eligible and policy.get("amount") is not None:
        amount = compute(policy["amount"], facts, policy["parameters"], on)
    return explained(policy, eligible, checks, amount)


def explained(
    policy: Document, eligible: Tri, checks: list[CheckResult], amount: int | None
) -> dict[str, Any]:
    """A match as subjects and staff see it, from its checks (whichever engine made them)."""
    met = sum(1 for c in checks if c.met)
    failing = [c for c in checks if c.met is not True]
    return {
        "policy": policy["_id"],
        "code": policy["code"],
        "version": policy["version"],
        "title": policy["title"],
        "mode": policy["mode"],
        "eligible": LABELS[eligible],
        "degree": round(met / len(checks), 4) if checks else 1.0,
        "checks": [c.view() for c in checks],
        "near_miss": eligible is not True and len(failing) == 1,
        "missing": [c.fact for c in checks if c.met is None],  # what would decide it
        "amount": amount,
    }


def decision_record(
    policy: Document, result: dict[str, Any], sources: dict[str, Any], on: date
) -> dict[str, Any]:
    """What a payout carries: the rules' version, the parameters in force, the facts with
    their sources, each check's result (``result`` is the subject's :func:`match`)."""
    return {
        "policy": policy["_id"],
        "code": policy["code"],
        "version": policy["version"],
        "on": on.isoformat(),
        "parameters": {
            name: parameter(policy["parameters"], name, on) for name in policy["parameters"]
        },
        "facts": {name: sources.get(name) for name in policy.get("reads", []) if name in sources},
        "checks": result["checks"],
        "amount": result["amount"],
    }
