"""Rules of the jurisdiction tree and of account creation, without a database."""

from __future__ import annotations

import pytest

from services.common.actor import Actor
from services.common.errors import Forbidden, InvalidInput
from services.identity.accounts import validate_roles
from services.identity.orgunits import validate_new_unit

DISTRICT = {"_id": "C/HP", "kind": "district"}


def test_a_street_may_sit_below_a_district() -> None:
    validate_new_unit(DISTRICT, "NH", "南湖街道", "street")


@pytest.mark.parametrize(
    ("parent", "code", "kind", "field"),
    [
        (DISTRICT, "NH", "city", "kind"),
        (DISTRICT, "NH", "district", "kind"),
        ({"_id": "C/HP/MZ", "kind": "department"}, "X", "street", "kind"),
        (DISTRICT, "bad/code", "street", "code"),
        (DISTRICT, "NH", "planet", "kind"),
    ],
)
def test_malformed_units_are_refused_naming_the_field(
    parent: dict[str, str], code: str, kind: str, field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_new_unit(parent, code, "名称", kind)
    assert caught.value.field == field


def test_departments_attach_at_any_level() -> None:
    validate_new_unit(DISTRICT, "MZ", "民政局", "department")
    validate_new_unit({"_id": "C/HP/NH/XH", "kind": "community"}, "WG", "网格站", "department")


def test_staff_grant_only_citizen_enterprise_and_verifier_roles() -> None:
    staff = Actor(account_id="s", roles=("staff",), org_path="C/HP/NH")
    assert validate_roles(staff, ["citizen"]) == ["citizen"]
    with pytest.raises(Forbidden):
        validate_roles(staff, ["staff"])
    with pytest.raises(Forbidden):
        validate_roles(staff, ["admin"])
    supervisor = Actor(account_id="v", roles=("supervisor",), org_path="C/HP")
    assert validate_roles(supervisor, ["staff", "verifier"]) == ["staff", "verifier"]
    with pytest.raises(InvalidInput):
        validate_roles(supervisor, ["wizard"])
