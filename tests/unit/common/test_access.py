"""The access model's decision, without I/O: who is admitted, and for a resource, allowed,
visible but not allowed (403) or not there (404)."""

from __future__ import annotations

import pytest

from services.common.access import (
    ADMIN,
    HOLDER,
    JURISDICTION,
    LINEAGE,
    PARTNER_AREA,
    PROXY,
    SELF,
    STAFF,
    AccessTable,
    Answer,
    Kind,
    Links,
    Resource,
    Rule,
    admit,
    relate,
)
from services.common.actor import Actor

READ = Rule(
    "Read it",
    roles=STAFF | {"citizen", "partner"},
    relations=(*HOLDER, JURISDICTION, ADMIN),
    resource="thing",
    scope="show_certificates",
)
CHANGE = Rule("Change it", roles=STAFF, relations=(ADMIN,), resource="thing")
FEED = Rule(
    "Feed it",
    roles=frozenset({"partner"}),
    relations=(PARTNER_AREA,),
    resource="thing",
    client_scope="facts:write",
)
TABLE = AccessTable(
    "test",
    {"read": READ, "change": CHANGE, "feed": FEED},
    {
        "thing": Kind(
            "thing", visible=(*HOLDER, JURISDICTION, PARTNER_AREA, ADMIN), scope="show_certificates"
        )
    },
)
THING = Resource("thing", subject="p_owner", units=("C/HP/NH/XH",))
NO = Links()


def answer(rule: Rule, actor: Actor, links: Links = NO) -> Answer:
    admitted = admit(rule, actor, None)
    return (
        admitted
        if admitted is not Answer.ALLOW
        else relate(TABLE, rule, actor, None, THING, lambda: links)
    )


def staff(unit: str) -> Actor:
    return Actor(account_id="acc", roles=("staff",), org_path=unit)


@pytest.mark.parametrize(
    ("unit", "expected"),
    [
        ("C/HP/NH/XH", Answer.ALLOW),
        ("C/HP/NH", Answer.ALLOW),
        ("C", Answer.ALLOW),
        ("C/HP/NHX", Answer.NOT_FOUND),  # a sibling whose code shares a prefix
        ("C/HP/TYJ", Answer.NOT_FOUND),
        ("C/HP/NH/XH/BELOW", Answer.NOT_FOUND),
    ],
)
def test_staff_reach_their_subtree_only(unit: str, expected: Answer) -> None:
    assert answer(READ, staff(unit)) is expected


def test_visible_but_not_allowed_is_forbidden() -> None:
    assert answer(CHANGE, staff("C/HP/NH")) is Answer.FORBIDDEN
    assert answer(CHANGE, staff("C/HP/TYJ")) is Answer.NOT_FOUND
    assert answer(CHANGE, Actor(account_id="root", roles=("admin",))) is Answer.ALLOW


def test_a_proxy_needs_the_scope_in_force() -> None:
    proxy = Actor(account_id="acc_p", roles=("citizen",), subject_id="p_proxy")
    with_scope = Links(delegated={"p_owner": frozenset({"show_certificates"})})
    other_scope = Links(delegated={"p_owner": frozenset({"show_code"})})
    assert answer(READ, proxy, with_scope) is Answer.ALLOW
    assert answer(READ, proxy, other_scope) is Answer.NOT_FOUND
    assert answer(READ, proxy) is Answer.NOT_FOUND
    owner = Actor(account_id="acc_o", roles=("citizen",), subject_id="p_owner")
    assert answer(READ, owner) is Answer.ALLOW


def test_an_operator_holds_the_organisation() -> None:
    operator = Actor(account_id="acc_e", roles=("citizen",))
    org = Resource("thing", subject="o_org", units=("C/HP/NH",))
    links = Links(operated=frozenset({"o_org"}))
    assert relate(TABLE, READ, operator, None, org, lambda: links) is Answer.ALLOW
    assert relate(TABLE, READ, operator, None, org, lambda: NO) is Answer.NOT_FOUND


def test_a_partner_is_no_staff_and_needs_its_scope_and_area() -> None:
    area = Actor(
        account_id="client:f",
        roles=("partner",),
        client_id="f",
        org_path="C/HP/NH",
        scopes=("facts:write",),
    )
    elsewhere = Actor(
        account_id="client:g",
        roles=("partner",),
        client_id="g",
        org_path="C/HP/TYJ",
        scopes=("facts:write",),
    )
    unscoped = Actor(account_id="client:h", roles=("partner",), client_id="h", org_path="C/HP/NH")
    assert answer(FEED, area) is Answer.ALLOW
    assert answer(FEED, elsewhere) is Answer.NOT_FOUND
    assert answer(FEED, unscoped) is Answer.FORBIDDEN
    assert (
        answer(READ, area) is Answer.FORBIDDEN
    )  # visible in its area, but JURISDICTION is staff's


def test_nobody_without_a_token_and_nobody_without_the_role() -> None:
    assert admit(READ, None, None) is Answer.UNAUTHENTICATED
    assert admit(CHANGE, Actor(account_id="c", roles=("citizen",)), None) is Answer.FORBIDDEN
    service_only = Rule("Bus only", services=frozenset({"policy"}))
    assert admit(service_only, None, "policy") is Answer.ALLOW
    assert admit(service_only, None, "certs") is Answer.UNAUTHENTICATED
    assert admit(Rule("Public", anyone=True), None, None) is Answer.ALLOW


def test_lineage_is_ones_own_unit_and_those_above() -> None:
    citizen = Actor(account_id="c", roles=("citizen",), org_path="C/HP/NH/XH")
    rule = Rule("Read a unit", roles=frozenset({"citizen"}), relations=(LINEAGE,), resource="unit")
    table = AccessTable("t", {"r": rule}, {"unit": Kind("unit", visible=(LINEAGE,))})
    for unit, expected in (
        ("C/HP/NH", Answer.ALLOW),
        ("C/HP/NH/XH", Answer.ALLOW),
        ("C/HP/TYJ", Answer.NOT_FOUND),
    ):
        assert (
            relate(table, rule, citizen, None, Resource("unit", units=(unit,)), lambda: NO)
            is expected
        )


def test_a_rule_is_refused_when_it_cannot_be_decided() -> None:
    with pytest.raises(ValueError, match="resource kind"):
        Rule("Broken", roles=STAFF, relations=(SELF,))
    with pytest.raises(ValueError, match="delegation scope"):
        Rule("Broken", roles=STAFF, relations=(PROXY,), resource="thing")
