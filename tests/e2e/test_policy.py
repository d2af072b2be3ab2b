"""Policy matching end to end: the assistive-device rule as data, facts learnt from identity
and from certificate events, every check explained, pushed once, re-matched when a fact
changes; feeds in bulk with bad lines reported; simulation without side effects."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import token_for
from tests.e2e.test_certs import issue_disability
from tests.idnumbers import resident_id
from tests.unit.policy.test_rules import ASSISTIVE_DEVICES

Login = Callable[[str], dict[str, str]]
DISTRICT = "CN-LN-SY/HP"


def eventually(probe: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Poll until ``probe`` returns something truthy (events cross the broker)."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


@pytest.fixture(scope="module")
def person(http: httpx.Client, login: Login) -> dict[str, Any]:
    """A 41-year-old in 新华社区 with a login, registered for this module."""
    body = {
        "name": "赵春燕",
        "id_number": resident_id("19850312"),
        "org_path": f"{DISTRICT}/NH/XH",
        "phone": "13800000077",
        "account": {"username": "citizen.zhao", "password": "Zhao-pass-2026"},
    }
    created = http.post("/v1/persons", headers=login("staff.nh"), json=body)
    assert created.status_code == 201, created.text
    token = token_for(http, "citizen.zhao", "Zhao-pass-2026")
    return {"id": created.json()["id"], "headers": {"Authorization": f"Bearer {token}"}}


def match_for(http: httpx.Client, headers: dict[str, str], code: str) -> dict[str, Any] | None:
    matches = http.get("/v1/me/matches", headers=headers)
    assert matches.status_code == 200, matches.text
    return next((m for m in matches.json() if m["code"] == code), None)


def test_the_assistive_device_policy_finds_a_disabled_citizen_and_explains_why(
    http: httpx.Client, login: Login, person: dict[str, Any]
) -> None:
    staff = login("staff.cl")
    body = copy.deepcopy(ASSISTIVE_DEVICES)
    created = http.post("/v1/policies", headers=staff, json=body)
    assert created.status_code == 201, created.text
    policy = created.json()
    assert policy["status"] == "draft"
    assert policy["version"] == 1

    issued = issue_disability(http, staff, person["id"], "肢体", "三级", "cl-policy-0001")
    assert issued.status_code == 201, issued.text
    device = http.put(
        f"/v1/subjects/{person['id']}/facts",
        headers=login("staff.nh"),
        json={"facts": {"device_price": 280000}},
    )
    assert device.status_code == 200, device.text

    simulated = http.post(f"/v1/policies/{policy['id']}/simulate", headers=staff)
    assert simulated.status_code == 200, simulated.text
    assert simulated.json()["eligible"] >= 1
    assert http.get("/v1/me/inbox", headers=person["headers"]).json() == []  # no side effects

    published = http.post(f"/v1/policies/{policy['id']}/publish", headers=staff)
    assert published.status_code == 200, published.text
    assert published.json()["matched"]["eligible"] >= 1

    found = eventually(lambda: match_for(http, person["headers"], "assistive-devices"))
    assert found is not None
    assert found["eligible"] == "yes"
    assert found["amount"] == 280000  # under 60: the whole price
    checks = {c["label"]: c for c in found["checks"]}
    assert checks["持有残疾人证"]["value"] == "肢体"
    assert checks["持有残疾人证"]["clause"] == "第二条"
    assert checks["已评估适配辅具"]["value"] == 280000
    assert checks["已评估适配辅具"]["required"] == 0
    inbox = http.get("/v1/me/inbox", headers=person["headers"]).json()
    assert [m["code"] for m in inbox] == ["assistive-devices"]

    # A fact changes: the price is reassessed → re-matched at once, not pushed again.
    http.put(
        f"/v1/subjects/{person['id']}/facts",
        headers=login("staff.nh"),
        json={"facts": {"device_price": 300000}},
    )
    assert match_for(http, person["headers"], "assistive-devices")["amount"] == 300000
    assert len(http.get("/v1/me/inbox", headers=person["headers"]).json()) == 1

    # The certificate is revoked → the citizen no longer qualifies (the event re-matches
    # them; how fast is measured in bench/, not asserted here).
    revoked = http.post(
        f"/v1/certificates/{issued.json()['id']}/revoke", headers=staff, json={"reason": "复核"}
    )
    assert revoked.status_code == 200, revoked.text
    gone = eventually(
        lambda: (
            (match_for(http, person["headers"], "assistive-devices") or {}).get("eligible") == "no"
        ),
        timeout=5,
    )
    assert gone
    assert len(http.get("/v1/me/inbox", headers=person["headers"]).json()) == 1

    # Staff of another street cannot read this person's facts or matches.
    for path in ("facts", "matches"):
        hidden = http.get(f"/v1/subjects/{person['id']}/{path}", headers=login("staff.tyj"))
        assert hidden.status_code == 404


def test_bulk_facts_report_bad_lines_and_a_batch_applies_once(
    http: httpx.Client, login: Login, person: dict[str, Any]
) -> None:
    admin = login("admin")
    lines = [
        json.dumps({"subject": person["id"], "facts": {"low_income": True}}),
        "not json",
        json.dumps({"subject": "x", "facts": {"low_income": True}}),
        json.dumps({"subject": person["id"], "facts": {"Bad-Name": 1}}),
    ]
    body = "\n".join(lines).encode()
    first = http.post(
        "/v1/facts:bulk", params={"batch_id": "mz-2026-11"}, headers=admin, content=body
    )
    assert first.status_code == 200, first.text
    report = first.json()
    assert report["applied"] == 1
    assert [(e["line"], e.get("field")) for e in report["errors"]] == [
        (2, None),
        (3, "subject"),
        (4, "facts.Bad-Name"),
    ]
    again = http.post(
        "/v1/facts:bulk", params={"batch_id": "mz-2026-11"}, headers=admin, content=body
    )
    assert again.json()["repeated"] is True
    assert again.json()["applied"] == 1
    facts = http.get(f"/v1/subjects/{person['id']}/facts", headers=admin).json()
    assert facts["low_income"]["value"] is True
    assert facts["low_income"]["source"].startswith("staff:")  # the administrator's upload
    assert facts["birth_date"]["source"] == "identity"  # learnt from identity


def test_an_invalid_rule_is_refused_naming_the_node(http: httpx.Client, login: Login) -> None:
    body = copy.deepcopy(ASSISTIVE_DEVICES)
    body["code"] = "broken"
    body["conditions"]["all"][1]["op"] = "approximately"
    refused = http.post("/v1/policies", headers=login("staff.cl"), json=body)
    assert refused.status_code == 422
    assert refused.json()["field"] == "conditions.all[1].op"
