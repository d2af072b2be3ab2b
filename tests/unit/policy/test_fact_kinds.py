"""What a fact kind allows, and finding the check that reads an undeclared fact."""

from __future__ import annotations

from typing import Any

import pytest

from services.policy.fact_kinds import BUILT_IN, FactKind, first_undeclared, value_problem
from tests.unit.policy.test_rules import ASSISTIVE_DEVICES

SIZE = BUILT_IN["household_size"]
PRICE = BUILT_IN["device_price"]
GRADE = BUILT_IN["disability_grade"]


@pytest.mark.parametrize(
    ("kind", "value", "allowed"),
    [
        (SIZE, 3, True),
        (SIZE, 0, False),  # a household has someone in it
        (SIZE, 2.5, False),
        (SIZE, True, False),  # true is not a number
        (PRICE, 0, True),
        (PRICE, -1, False),  # money is never negative
        (PRICE, "100", False),
        (GRADE, "二级", True),
        (GRADE, "二等", False),
        (BUILT_IN["low_income"], "是", False),
        (BUILT_IN["birth_date"], "1990-02-30", False),
        (BUILT_IN["birth_date"], "1990-02-28", True),
        (FactKind("tags", "标签", "texts", "feed"), ["a", "b"], True),
        (FactKind("tags", "标签", "texts", "feed"), "a", False),
    ],
)
def test_a_value_is_what_its_kind_allows(kind: FactKind, value: Any, allowed: bool) -> None:
    assert (value_problem(kind, value) is None) is allowed


def test_the_check_reading_an_undeclared_fact_is_named() -> None:
    known = {"disability_category", "device_price", "age"}.__contains__
    assert first_undeclared(ASSISTIVE_DEVICES["conditions"], "conditions", known) is None
    found = first_undeclared(ASSISTIVE_DEVICES["amount"], "amount", known)
    assert found == ("amount.table[1].when.fact", "low_income")
