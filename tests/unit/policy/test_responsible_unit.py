"""Who a policy may name as its responsible unit (told of 应享未享): a unit of its own district."""

from __future__ import annotations

import pytest

from services.common.errors import InvalidInput
from services.policy.policies import check_responsible_unit


@pytest.mark.parametrize(
    ("owner", "unit", "allowed"),
    [
        ("CN-LN-SY/HP/CL", "CN-LN-SY/HP/MZ", True),  # 残联's policy, 民政局 administers it
        ("CN-LN-SY/HP/NH", "CN-LN-SY/HP/MZ", True),  # a street names its district's bureau
        ("CN-LN-SY/HP", "CN-LN-SY/HP/MZ", True),
        ("CN-LN-SY/HP", "CN-LN-SY/HX/MZ", False),  # never another district's queue
        ("CN-LN-SY/HP/CL", "CN-LN-DL/ZS", False),
    ],
)
def test_the_responsible_unit_is_of_the_policys_own_district(
    owner: str, unit: str, allowed: bool
) -> None:
    if allowed:
        check_responsible_unit({"responsible_unit": unit}, owner)
        return
    with pytest.raises(InvalidInput) as refused:
        check_responsible_unit({"responsible_unit": unit}, owner)
    assert refused.value.field == "responsible_unit"
