"""Rules as data: three-valued conditions with every check explained, dated parameters,
amounts, and refusals that name the node."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from services.common.errors import InvalidInput
from services.policy import matching
from services.policy.amounts import compute
from services.policy.policies import validate_definition

# Sihai's assistive-device rule: free under 60; 60 and over free for low-income households,
# otherwise half of the device price. Only people holding a disability certificate.
ASSISTIVE_DEVICES: dict[str, Any] = {
    "code": "assistive-devices",
    "title": "残疾人辅助器具适配补贴",
    "department": "区残联",
    "category": "disability",
    "subject_type": "person",
    "mode": "auto",
    "budget": 10_000_000,
    "parameters": {"age_threshold": [{"from": "2020-01-01", "value": 60}]},
    "conditions": {
        "all": [
            {
                "fact": "disability_category",
                "op": "exists",
                "label": "持有残疾人证",
                "clause": "第二条",
            },
            {
                "fact": "device_price",
                "op": ">",
                "value": 0,
                "label": "已评估适配辅具",
                "clause": "第三条",
            },
        ]
    },
    "amount": {
        "table": [
            {
                "when": {"fact": "age", "op": "<", "param": "age_threshold", "label": "未满60周岁"},
                "amount": {"rate": 1, "of": "device_price"},
            },
            {
                "when": {"fact": "low_income", "op": "==", "value": True, "label": "低保家庭"},
                "amount": {"rate": 1, "of": "device_price"},
            },
        ],
        "otherwise": {"rate": 0.5, "of": "device_price"},
    },
}
TODAY = date(2026, 11, 23)


def policy(body: dict[str, Any]) -> dict[str, Any]:
    return {"_id": "pol_test", "version": 1, **validate_definition(body)}


@pytest.mark.parametrize(
    ("facts", "eligible", "amount"),
    [
        ({"disability_category": "肢体", "device_price": 300000, "age": 45}, "yes", 300000),
        (
            {"disability_category": "肢体", "device_price": 300000, "age": 70, "low_income": True},
            "yes",
            300000,
        ),
        (
            {"disability_category": "肢体", "device_price": 300001, "age": 70, "low_income": False},
            "yes",
            150001,
        ),
        ({"disability_category": "肢体", "device_price": 300000, "age": 70}, "yes", None),
        ({"device_price": 300000, "age": 45}, "no", None),
        ({"disability_category": "肢体", "age": 45}, "unknown", None),
    ],
)
def test_the_assistive_device_rule(
    facts: dict[str, Any], eligible: str, amount: int | None
) -> None:
    result = matching.match(policy(ASSISTIVE_DEVICES), facts, TODAY)
    assert result["eligible"] == eligible
    assert result["amount"] == amount


def test_every_check_is_explained_and_none_is_skipped() -> None:
    result = matching.match(policy(ASSISTIVE_DEVICES), {"age": 45}, TODAY)
    assert [c["label"] for c in result["checks"]] == ["持有残疾人证", "已评估适配辅具"]
    first = result["checks"][0]
    assert first["met"] is False  # `exists` on a missing fact is a plain no
    assert result["checks"][1]["met"] is None
    assert result["checks"][1]["known"] is False
    assert result["eligible"] == "no"
    assert result["missing"] == ["device_price"]
    assert result["degree"] == 0.0


def test_near_miss_and_degree() -> None:
    result = matching.match(
        policy(ASSISTIVE_DEVICES), {"disability_category": "视力", "device_price": 0}, TODAY
    )
    assert result["eligible"] == "no"
    assert result["near_miss"] is True
    assert result["degree"] == 0.5
    assert result["checks"][1]["value"] == 0
    assert result["checks"][1]["required"] == 0


def test_dated_parameters_change_on_their_date() -> None:
    body = {
        **ASSISTIVE_DEVICES,
        "parameters": {
            "age_threshold": [
                {"from": "2020-01-01", "value": 60},
                {"from": "2027-01-01", "value": 65},
            ]
        },
    }
    facts = {"disability_category": "肢体", "device_price": 1000, "age": 62, "low_income": False}
    assert matching.match(policy(body), facts, date(2026, 12, 31))["amount"] == 500
    assert matching.match(policy(body), facts, date(2027, 1, 1))["amount"] == 1000


def test_any_and_not_are_three_valued() -> None:
    body = {
        **ASSISTIVE_DEVICES,
        "conditions": {
            "any": [
                {"fact": "a", "op": "==", "value": 1, "label": "a"},
                {"not": {"fact": "b", "op": "==", "value": 1, "label": "b"}},
            ]
        },
    }
    assert matching.match(policy(body), {}, TODAY)["eligible"] == "unknown"
    assert matching.match(policy(body), {"b": 2}, TODAY)["eligible"] == "yes"
    assert matching.match(policy(body), {"a": 0, "b": 1}, TODAY)["eligible"] == "no"


def test_rate_cap_and_brackets() -> None:
    on = TODAY
    assert compute({"rate": 0.1, "of": "rd", "cap": 500}, {"rd": 10000}, {}, on) == 500
    assert compute({"rate": 0.1, "of": "rd", "cap": 500}, {"rd": 1234}, {}, on) == 123
    brackets = {
        "brackets": {
            "of": "employees",
            "steps": [{"from": 10, "amount": 1000}, {"from": 50, "amount": 5000}],
        }
    }
    assert compute(brackets, {"employees": 9}, {}, on) == 0
    assert compute(brackets, {"employees": 50}, {}, on) == 5000
    assert compute(brackets, {}, {}, on) is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            {"conditions": {"all": [{"fact": "x", "op": "≈", "value": 1, "label": "x"}]}},
            "conditions.all[0].op",
        ),
        (
            {"conditions": {"all": [{"fact": "x", "op": "==", "value": 1}]}},
            "conditions.all[0].label",
        ),
        ({"conditions": {"any": []}}, "conditions.any"),
        (
            {"conditions": {"not": {"fact": "x", "op": "<", "param": "nope", "label": "x"}}},
            "conditions.not.param",
        ),
        (
            {
                "amount": {
                    "table": [
                        {
                            "when": {"fact": "x", "op": "in", "value": 1, "label": "x"},
                            "amount": {"fixed": 1},
                        }
                    ]
                }
            },
            "amount.table[0].when.value",
        ),
        ({"amount": {"rate": -1, "of": "x"}}, "amount.rate"),
        ({"mode": "sometimes"}, "mode"),
        ({"budget": 1.5}, "budget"),
        ({"amount": None}, "amount"),
    ],
)
def test_invalid_rules_are_refused_naming_the_node(change: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        validate_definition({**ASSISTIVE_DEVICES, **change})
    assert refused.value.extra["field"] == field


def test_a_policy_knows_which_facts_it_reads() -> None:
    assert policy(ASSISTIVE_DEVICES)["reads"] == [
        "age",
        "device_price",
        "disability_category",
        "low_income",
    ]
