"""The batch engine answers exactly as the scalar one: for random rule trees over random
facts (unknown, integers, decimals, text, true/false, lists), every subject's explanation
from the kept check bits equals :func:`matching.match`, amounts to the fen."""

from __future__ import annotations

import random
from typing import Any

import pytest

from services.policy import columnar, matching
from tests.unit.policy.test_rules import ASSISTIVE_DEVICES, TODAY, policy

FACTS = ("n1", "n2", "n3", "dec", "txt", "flag", "tags", "mixed")


def random_value(name: str, rng: random.Random) -> Any:
    if rng.random() < 0.15:
        return None
    if name.startswith("n"):
        return rng.randint(-5, 120)
    if name == "dec":
        return rng.choice([0.5, 1.15, 2.5, 10.05, 99.995, 3])
    if name == "txt":
        return rng.choice(["肢体", "视力", "听力", "a"])
    if name == "flag":
        return rng.choice([True, False])
    if name == "tags":
        return rng.sample(["hightech", "sme", "export", "rd"], rng.randint(0, 3))
    return rng.choice([1, "1", 2.5, True, [1]])


def random_check(rng: random.Random, with_param: bool) -> dict[str, Any]:
    fact = rng.choice(FACTS)
    op = rng.choice(["==", "!=", "<", "<=", ">", ">=", "in", "not_in", "contains", "exists"])
    check: dict[str, Any] = {"fact": fact, "op": op, "label": f"{fact} {op}", "clause": "第一条"}
    if op == "exists":
        return check
    if with_param and op in ("<", ">=") and rng.random() < 0.5:
        check["param"] = "threshold"
    elif op in ("in", "not_in"):
        check["value"] = rng.sample([1, 2.5, 30, 60, "肢体", "a", True], 3)
    elif op == "contains":
        check["value"] = rng.choice(["hightech", "rd", 1, "肢"])
    else:
        check["value"] = rng.choice([0, 18, 60, 1.15, 2.5, "肢体", True, 100])
    return check


def random_condition(rng: random.Random, depth: int = 0) -> dict[str, Any]:
    roll = rng.random()
    if depth >= 3 or roll < 0.4:
        return random_check(rng, with_param=True)
    if roll < 0.55:
        return {"not": random_condition(rng, depth + 1)}
    key = "all" if roll < 0.8 else "any"
    return {key: [random_condition(rng, depth + 1) for _ in range(rng.randint(1, 4))]}


def random_amount(rng: random.Random, depth: int = 0) -> dict[str, Any]:
    kind = rng.choice(
        ["fixed", "rate", "rate_cap", "brackets", "table"] if depth == 0 else ["fixed", "rate"]
    )
    if kind == "fixed":
        return {"fixed": rng.choice([0, 100, 12345])}
    if kind == "rate":
        return {
            "rate": rng.choice([0.5, 1, 0.15, 1.15, 0.333]),
            "of": rng.choice(["n1", "dec", "txt"]),
        }
    if kind == "rate_cap":
        return {
            "rate": 0.1,
            "of": rng.choice(["n2", "dec"]),
            "cap": rng.choice([5, {"param": "cap"}]),
        }
    if kind == "brackets":
        steps = [
            {"from": 0, "amount": 100},
            {"from": 50, "amount": 300},
            {"from": 20.5, "amount": 7},
        ]
        return {"brackets": {"of": rng.choice(["n3", "dec", "mixed"]), "steps": steps}}
    return {
        "table": [
            {"when": random_check(rng, with_param=False), "amount": random_amount(rng, 1)}
            for _ in range(rng.randint(1, 3))
        ],
        **({"otherwise": random_amount(rng, 1)} if rng.random() < 0.7 else {}),
    }


def random_policy(rng: random.Random, i: int) -> dict[str, Any]:
    return policy(
        {
            "code": f"r{i}",
            "title": f"随机政策{i}",
            "department": "区政府",
            "category": "test",
            "subject_type": "person",
            "mode": "auto",
            "budget": None,
            "parameters": {
                "threshold": [
                    {"from": "2020-01-01", "value": 30},
                    {"from": "2026-07-01", "value": 60},
                ],
                "cap": [{"from": "2020-01-01", "value": 4}],
            },
            "conditions": random_condition(rng),
            "amount": random_amount(rng),
        }
    )


def assert_same(body: dict[str, Any], rows: list[dict[str, Any]]) -> columnar.PolicyBatch:
    columns = columnar.columns_of(
        rows, (*FACTS, "age", "device_price", "disability_category", "low_income")
    )
    batch = columnar.match_columns(body, columns, len(rows), TODAY)
    for i, row in enumerate(rows):
        facts = {k: v for k, v in row.items() if v is not None}
        assert batch.explain(i, columns) == matching.match(body, facts, TODAY), (body, row)
    return batch


@pytest.mark.parametrize("seed", range(40))
def test_random_rules_agree_with_the_scalar_engine(seed: int) -> None:
    rng = random.Random(seed)
    rows = [{name: random_value(name, rng) for name in FACTS} for _ in range(120)]
    assert_same(random_policy(rng, seed), rows)


def test_the_assistive_device_rule_in_a_batch() -> None:
    rows = [
        {"disability_category": "肢体", "device_price": 300000, "age": 45},
        {"disability_category": "肢体", "device_price": 300001, "age": 70, "low_income": False},
        {"disability_category": "肢体", "device_price": 300000, "age": 70, "low_income": True},
        {"disability_category": "肢体", "device_price": 300000, "age": 70},
        {"device_price": 300000, "age": 45},
        {"disability_category": "视力", "age": 30},
    ]
    batch = assert_same(policy(ASSISTIVE_DEVICES), rows)
    assert [batch.eligible_label(i) for i in range(len(rows))] == [
        "yes",
        "yes",
        "yes",
        "yes",
        "no",
        "unknown",
    ]
    assert batch.eligible_count == 4
    assert batch.total_amount == 300000 + 150001 + 300000  # the fourth one's amount is unknown


def test_large_integers_fall_back_to_exact_arithmetic() -> None:
    body = policy({**ASSISTIVE_DEVICES, "amount": {"rate": 0.15, "of": "device_price"}})
    rows = [{"disability_category": "肢体", "device_price": 2**61 + 1, "age": 45}]
    assert_same(body, rows)


def test_a_fact_read_only_by_the_amount_is_read_by_the_policy() -> None:
    """An amount's fact changing must re-match the subject (its amount changes)."""
    body = policy({**ASSISTIVE_DEVICES, "amount": {"rate": 0.5, "of": "device_cost"}})
    assert "device_cost" in body["reads"]
