"""Policy matching end to end: the assistive-device rule as data, facts learnt from identity
and from certificate events, every check explained, pushed once, re-matched when a fact
changes; feeds in bulk with bad lines reported; simulation without side effects."""

from __future__ import annotations

import copy
import json
import secrets
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from services.common.crypto import timestamped_signature
from tests.conftest import Suite
from tests.e2e.conftest import token_for
from tests.e2e.support import eventually, fresh_citizen
from tests.e2e.test_certs import issue_disability
from tests.e2e.test_foundation import assert_problem
from tests.idnumbers import credit_code, resident_id
from tests.unit.policy.test_rules import ASSISTIVE_DEVICES

Login = Callable[[str], dict[str, str]]
DISTRICT = "CN-LN-SY/HP"


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


def texts_to(suite: Suite, phone: str) -> list[dict[str, Any]]:
    """What one phone received from the demo SMS partner (its operator console)."""
    port = suite.env["SMS_PORT"]
    answer = httpx.get(
        f"http://127.0.0.1:{port}/messages",
        params={"to": phone},
        headers={"Authorization": f"Bearer {suite.secret('SMS_SECRET')}"},
    )
    assert answer.status_code == 200, answer.text
    texts: list[dict[str, Any]] = answer.json()
    return texts


def match_for(http: httpx.Client, headers: dict[str, str], code: str) -> dict[str, Any] | None:
    matches = http.get("/v1/me/matches", headers=headers)
    assert matches.status_code == 200, matches.text
    return next((m for m in matches.json() if m["code"] == code), None)


def test_the_assistive_device_policy_finds_a_disabled_citizen_and_explains_why(
    http: httpx.Client, login: Login, person: dict[str, Any], running_suite: Suite
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
    # The department's author: the residents eligible live outside its own unit, so they are
    # told as a count only when there are at least ten of them.
    told = simulated.json()
    assert told["eligible"] >= 10 if told["eligible"] is not None else told["fewer_than"] == 10
    inbox = http.get("/v1/me/inbox", headers=person["headers"]).json()
    assert "assistive-devices" not in [m["code"] for m in inbox]  # no side effects

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
    inbox = [
        m
        for m in http.get("/v1/me/inbox", headers=person["headers"]).json()
        if m["code"] == "assistive-devices"
    ]
    assert len(inbox) == 1

    # The push is also texted to the citizen's phone (identity holds the number), and the
    # disclosure of the number to the SMS partner is in what they can see of their data.
    texts = eventually(lambda: texts_to(running_suite, "13800000077"))
    assert [t["key"] for t in texts] == [f"sms:{inbox[0]['id']}"]
    assert "残疾人辅助器具适配补贴" in texts[0]["text"]
    assert "2800.00 元" in texts[0]["text"]
    seen = http.get("/v1/me/activity", headers=person["headers"]).json()
    disclosed = [a for a in seen if a["action"] == "disclosed"]
    assert disclosed[0]["by"]["name"] == "短信服务商"
    assert disclosed[0]["detail"]["fields"] == ["phone"]

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
    assert len(texts_to(running_suite, "13800000077")) == 1  # nor texted twice

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
        json.dumps({"subject": person["id"], "facts": {"household_size": 0}}),  # out of range
        json.dumps({"subject": person["id"], "facts": {"low_incom": True}}),  # undeclared
        json.dumps({"subject": person["id"], "facts": {"low_income": "是"}}),  # wrong type
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
        (5, "facts.household_size"),
        (6, "facts.low_incom"),
        (7, "facts.low_income"),
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


def test_a_policy_reads_only_declared_facts_and_a_feed_writes_what_their_kind_allows(
    http: httpx.Client, login: Login, person: dict[str, Any]
) -> None:
    """As OpenFisca refuses an unknown variable: a misspelled fact is refused when the policy
    is written, naming the check; a kind declared by a unit may be read and written."""
    staff = login("staff.cl")
    body = copy.deepcopy(ASSISTIVE_DEVICES)
    body["code"] = f"typo-{secrets.token_hex(3)}"
    body["conditions"]["all"][1]["fact"] = "device_prise"
    refused = assert_problem(http.post("/v1/policies", headers=staff, json=body), 422)
    assert (refused["field"], refused["code"]) == ("conditions.all[1].fact", "unknown_fact")
    body["conditions"]["all"][1]["fact"] = "device_price"
    body["amount"]["table"][1]["when"]["fact"] = "low_incme"
    refused = assert_problem(http.post("/v1/policies", headers=staff, json=body), 422)
    assert refused["field"] == "amount.table[1].when.fact"

    street = login("staff.nh")
    put = http.put(
        f"/v1/subjects/{person['id']}/facts", headers=street, json={"facts": {"househld": 3}}
    )
    assert (assert_problem(put, 422)["field"], put.json()["code"]) == (
        "facts.househld",
        "unknown_fact",
    )
    put = http.put(
        f"/v1/subjects/{person['id']}/facts", headers=street, json={"facts": {"device_price": -5}}
    )
    assert (assert_problem(put, 422)["field"], put.json()["code"]) == (
        "facts.device_price",
        "fact_value",
    )

    name = f"volunteer_{secrets.token_hex(3)}"
    kind = {
        "name": name,
        "label": "志愿服务时长",
        "type": "integer",
        "minimum": 0,
        "maximum": 10000,
    }
    declared = http.post("/v1/fact-kinds", headers=staff, json=kind)
    assert declared.status_code == 201, declared.text
    assert declared.json()["owner"] == f"{DISTRICT}/CL"
    taken = http.post("/v1/fact-kinds", headers=login("staff.sj"), json={**kind, "label": "别的"})
    assert assert_problem(taken, 409)["field"] == "name"
    listed = {k["name"]: k for k in http.get("/v1/fact-kinds", headers=street).json()}
    assert listed[name]["label"] == "志愿服务时长"
    assert listed["disability_category"]["source"] == "certs"
    assert (
        http.put(
            f"/v1/subjects/{person['id']}/facts", headers=street, json={"facts": {name: 12}}
        ).status_code
        == 200
    )
    too_much = http.put(
        f"/v1/subjects/{person['id']}/facts", headers=street, json={"facts": {name: 10001}}
    )
    assert assert_problem(too_much, 422)["field"] == f"facts.{name}"
    reads = copy.deepcopy(ASSISTIVE_DEVICES)
    reads["code"] = f"volunteer-{secrets.token_hex(3)}"
    reads["conditions"] = {"fact": name, "op": ">=", "value": 10, "label": "服务满十小时"}
    assert http.post("/v1/policies", headers=staff, json=reads).status_code == 201


def register(http: httpx.Client, login: Login, name: str, birth: str) -> str:
    body = {"name": name, "id_number": resident_id(birth), "org_path": f"{DISTRICT}/NH/XH"}
    created = http.post("/v1/persons", headers=login("staff.nh"), json=body)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def disabled(
    http: httpx.Client, login: Login, person: str, category: str, feed: dict[str, Any]
) -> None:
    """A person with a disability certificate (its category is a fact only the certificate
    states) and feed facts from their street, once policy has learnt both."""
    issued = issue_disability(http, login("staff.cl"), person, category, "二级", f"cl-{person}")
    assert issued.status_code == 201, issued.text
    written = http.put(
        f"/v1/subjects/{person}/facts", headers=login("staff.nh"), json={"facts": feed}
    )
    assert written.status_code == 200, written.text

    def known() -> bool:
        facts = http.get(f"/v1/subjects/{person}/facts", headers=login("staff.nh")).json()
        return "disability_category" in facts

    assert eventually(known)


def ledger_of(http: httpx.Client, staff: dict[str, str], policy_id: str) -> dict[str, Any]:
    found: dict[str, Any] = http.get(f"/v1/policies/{policy_id}/ledger", headers=staff).json()
    return found


def paid_count(ledger: dict[str, Any]) -> int:
    return int(ledger["by_state"].get("paid", {}).get("count", 0))


def pilot_policy(budget: int) -> dict[str, Any]:
    body = copy.deepcopy(ASSISTIVE_DEVICES)
    body.update(code="device-pilot", title="辅具适配试点补贴", budget=budget)
    body["conditions"]["all"].append(
        {"fact": "pilot_group", "op": "==", "value": "e2e", "label": "试点对象", "clause": "附件"}
    )
    return body


def test_auto_payouts_pay_once_within_the_budget_and_the_ledger_reconciles(
    http: httpx.Client, login: Login
) -> None:
    staff = login("staff.cl")
    people = [register(http, login, n, "19900101") for n in ("甲一", "乙二", "丙三")]
    for person in people:
        disabled(http, login, person, "肢体", {"device_price": 100000, "pilot_group": "e2e"})
    policy = http.post("/v1/policies", headers=staff, json=pilot_policy(200000)).json()
    assert http.post(f"/v1/policies/{policy['id']}/publish", headers=staff).status_code == 200

    run = http.post(
        f"/v1/policies/{policy['id']}/payout-runs", headers=staff, json={"period": "once"}
    )
    assert run.status_code == 200, run.text
    report = run.json()
    assert report["eligible"] == 3
    # paid at once, or accepted by the payment partner and settled by its signed callback
    assert report["paid"] + report["disbursing"] == 2

    def ledger() -> dict[str, Any]:
        return ledger_of(http, staff, policy["id"])

    assert eventually(lambda: paid_count(ledger()) == 2)
    last = sorted(people)[-1]  # the documented order: by subject id; the budget stops there
    assert report["unpaid"] == [{"subject": last, "amount": 100000, "reason": "budget_exhausted"}]
    assert report["budget_reserved"] == 200000  # to the fen

    again = http.post(
        f"/v1/policies/{policy['id']}/payout-runs", headers=staff, json={"period": "once"}
    ).json()
    assert again["created"] == 0
    assert again["paid"] == 0  # nothing more
    assert again["settled_before"] == 2
    assert again["settled_before"] == 2
    assert again["unpaid"] == report["unpaid"]

    totals = ledger()
    assert totals["by_state"]["paid"] == {"count": 2, "amount": 200000}
    assert totals["by_state"]["unfunded"]["count"] == 1
    assert totals["paid"] == totals["reserved_in_budget"] == 200000
    assert totals["reconciled"] is True
    assert totals["by_org_unit"] == [
        {"org_unit": f"{DISTRICT}/NH/XH", "count": 2, "amount": 200000}
    ]

    wrong = http.post(
        f"/v1/policies/{policy['id']}/payout-runs", headers=staff, json={"period": "2026-11"}
    )
    assert wrong.status_code == 422
    assert wrong.json()["field"] == "period"


def phoned(http: httpx.Client, login: Login, name: str) -> tuple[str, str]:
    """A person of 新华社区 born in 1990 with a phone of their own: (id, phone)."""
    phone = f"139{secrets.randbelow(10**8):08d}"
    body = {
        "name": name,
        "id_number": resident_id("19900101"),
        "org_path": f"{DISTRICT}/NH/XH",
        "phone": phone,
    }
    created = http.post("/v1/persons", headers=login("staff.nh"), json=body)
    assert created.status_code == 201, created.text
    return str(created.json()["id"]), phone


def test_unfunded_payouts_are_paid_when_money_appears_and_only_news_is_pushed(
    running_suite: Suite, http: httpx.Client, login: Login
) -> None:
    """A run that runs out of budget tells who was not funded; a new version with more budget
    pays them first, exactly once; it texts only whom it has news for."""
    staff = login("staff.cl")
    group = f"wait-{secrets.token_hex(3)}"
    waiting = [phoned(http, login, n) for n in ("周一", "吴二", "郑三")]
    late, late_phone = phoned(http, login, "王四")  # of another group: eligible from v2 on
    for person, _phone in waiting:
        disabled(http, login, person, "肢体", {"device_price": 100000, "pilot_group": group})
    disabled(http, login, late, "肢体", {"device_price": 100000, "pilot_group": f"{group}-b"})
    body = copy.deepcopy(ASSISTIVE_DEVICES)
    body.update(code=f"device-{group}", title="辅具适配等待补贴", budget=200000)
    body["conditions"]["all"].append(
        {"fact": "pilot_group", "op": "==", "value": group, "label": "试点对象", "clause": "附件"}
    )
    first = http.post("/v1/policies", headers=staff, json=body).json()
    assert http.post(f"/v1/policies/{first['id']}/publish", headers=staff).status_code == 200

    def texts(phone: str) -> list[str]:  # about this policy (the seeded one matches too)
        return [
            t["text"] for t in texts_to(running_suite, phone) if "辅具适配等待补贴" in t["text"]
        ]

    assert eventually(lambda: all(len(texts(phone)) == 1 for _p, phone in waiting))
    report = http.post(
        f"/v1/policies/{first['id']}/payout-runs", headers=staff, json={"period": "once"}
    ).json()
    assert (report["eligible"], report["paid"] + report["disbursing"]) == (3, 2), report
    by_id = dict(waiting)
    unfunded = sorted(by_id)[-1]  # the last by subject id: the budget stops there
    assert [u["subject"] for u in report["unpaid"]] == [unfunded]
    told = eventually(lambda: len(texts(by_id[unfunded])) == 2 and texts(by_id[unfunded]))
    unfunded_texts = [t for t in told if "预算已用完暂未发放" in t]
    assert len(unfunded_texts) == 1, told
    assert "1000.00 元" in unfunded_texts[0]
    again = http.post(
        f"/v1/policies/{first['id']}/payout-runs", headers=staff, json={"period": "once"}
    ).json()
    assert (again["funded_late"], again["unpaid"]) == (0, report["unpaid"])  # no money yet
    assert len(texts(by_id[unfunded])) == 2  # told once

    # v2: one more group and 1,000 yuan more. The waiting subject is funded first (the
    # newcomer may sort before it); the newcomer is then the one left unfunded.
    body["budget"] = 300000
    body["conditions"]["all"][-1] = {
        "fact": "pilot_group",
        "op": "in",
        "value": [group, f"{group}-b"],
        "label": "试点对象",
        "clause": "附件",
    }
    second = http.post("/v1/policies", headers=staff, json=body).json()
    assert second["version"] == 2, second
    assert http.post(f"/v1/policies/{second['id']}/publish", headers=staff).status_code == 200
    assert eventually(lambda: len(texts(late_phone)) == 1)  # news for the newcomer only
    run = http.post(
        f"/v1/policies/{second['id']}/payout-runs", headers=staff, json={"period": "once"}
    ).json()
    assert (run["eligible"], run["created"], run["funded_late"]) == (4, 1, 1), run
    assert [u["subject"] for u in run["unpaid"]] == [late]
    assert eventually(lambda: len(texts(late_phone)) == 2)
    for person, phone in waiting:  # paid, or paid now: no text about v2
        assert len(texts(phone)) == (2 if person == unfunded else 1), texts(phone)
    ledger = eventually(
        lambda: (t := ledger_of(http, staff, second["id"])) and paid_count(t) == 3 and t
    )
    assert ledger["paid"] == ledger["reserved_in_budget"] == 300000
    assert ledger["reconciled"] is True
    last = http.post(
        f"/v1/policies/{second['id']}/payout-runs", headers=staff, json={"period": "once"}
    ).json()
    assert (last["created"], last["funded_late"], last["settled_before"]) == (0, 0, 3)

    # Who was and was not paid, with what each decision used: the street of these residents
    # sees them with their records, the authoring department counts them, another street
    # sees none.
    def listed(who: str, **query: str) -> dict[str, Any]:
        answer = http.get(f"/v1/policies/{second['id']}/payouts", headers=login(who), params=query)
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found

    department = listed("staff.cl")  # 区残联 authored it: every payout, no one's facts
    assert department["total"] == 4
    assert {(p["subject"], "decision" in p) for p in department["items"]} == {(None, False)}
    area = listed("staff.nh")
    assert {p["subject"] for p in area["items"]} == {*by_id, late}
    assert listed("staff.tyj")["items"] == []
    (waiting_now,) = listed("staff.nh", status="unfunded")["items"]
    assert waiting_now["subject"] == late
    record = next(p for p in area["items"] if p["subject"] == unfunded)["decision"]
    assert record["facts"]["device_price"]["value"] == 100000
    assert record["facts"]["age"]["source"] == "derived"

    # The district's auditor reads every payout with its record and the ledger, and can
    # change nothing.
    auditor = login("auditor.hp")
    audited = listed("auditor.hp")
    assert {p["subject"] for p in audited["items"]} == {*by_id, late}
    assert all(p["decision"]["facts"] for p in audited["items"])
    assert ledger_of(http, auditor, second["id"])["paid"] == 300000
    again = http.post(
        f"/v1/policies/{second['id']}/payout-runs", headers=auditor, json={"period": "once"}
    )
    assert_problem(again, 403)


def test_confirm_mode_pays_after_one_click_and_records_a_decline(
    http: httpx.Client, login: Login
) -> None:
    enterprise = login("ent.xinghe")
    org = http.get("/v1/me/organisations", headers=enterprise).json()[0]["id"]
    staff = login("staff.sj")
    body = {
        "code": "rd-subsidy",
        "title": "研发费用补助",
        "department": "区市场监管局",
        "category": "innovation",
        "subject_type": "organisation",
        "mode": "confirm",
        "payout_period": "yearly",
        "budget": 1_000_000,
        "conditions": {
            "all": [
                {
                    "fact": "rd_expense",
                    "op": ">",
                    "value": 0,
                    "label": "有研发投入",
                    "clause": "第四条",
                }
            ]
        },
        "amount": {"rate": 0.1, "of": "rd_expense", "cap": 500000},
    }
    put = http.put(
        f"/v1/subjects/{org}/facts", headers=login("admin"), json={"facts": {"rd_expense": 1234567}}
    )
    assert put.status_code == 200, put.text
    policy = http.post("/v1/policies", headers=staff, json=body)
    assert policy.status_code == 201, policy.text
    pid = policy.json()["id"]
    assert http.post(f"/v1/policies/{pid}/publish", headers=staff).status_code == 200
    inbox = http.get("/v1/me/inbox", headers=enterprise).json()
    assert "rd-subsidy" in [m["code"] for m in inbox]

    for period in ("2026", "2025"):  # this year, and last year's, paid as of its end
        run = http.post(f"/v1/policies/{pid}/payout-runs", headers=staff, json={"period": period})
        assert run.json()["offered"] == 1, run.text
    ahead = http.post(f"/v1/policies/{pid}/payout-runs", headers=staff, json={"period": "2099"})
    assert assert_problem(ahead, 422)["field"] == "period"  # a year that has not begun
    offers = {
        p["period"]: p
        for p in http.get("/v1/me/payouts", headers=enterprise).json()
        if p["code"] == "rd-subsidy"
    }
    assert offers["2026"]["status"] == "offered"
    assert offers["2026"]["amount"] == 123457  # 10 % of the R&D expense, rounded to the fen
    paid = http.post(f"/v1/me/payouts/{offers['2026']['id']}/confirm", headers=enterprise)
    assert paid.status_code == 200, paid.text
    assert paid.json()["status"] in ("disbursing", "paid")  # the partner calls back

    def mine() -> dict[str, Any]:
        found: dict[str, Any] = next(
            p
            for p in http.get("/v1/me/payouts", headers=enterprise).json()
            if p["id"] == offers["2026"]["id"]
        )
        return found

    settled = eventually(lambda: mine()["status"] == "paid" and mine())
    assert settled["payment_id"].startswith("pay_")
    declined = http.post(f"/v1/me/payouts/{offers['2025']['id']}/decline", headers=enterprise)
    assert declined.json()["status"] == "declined"
    ledger = http.get(f"/v1/policies/{pid}/ledger", headers=staff).json()
    assert ledger["reserved_in_budget"] == 123457  # the declined offer went back
    assert ledger["reconciled"] is True
    assert ledger["by_state"]["declined"] == {"count": 1, "amount": 123457}
    twice = http.post(f"/v1/me/payouts/{offers['2026']['id']}/confirm", headers=enterprise)
    assert twice.status_code == 409
    decision = paid.json()["decision"]
    assert decision["version"] == 1
    assert decision["checks"][0]["label"] == "有研发投入"
    assert decision["facts"]["rd_expense"]["value"] == 1234567


def test_the_legal_representative_is_told_naming_the_enterprise_and_decides_its_payouts(
    running_suite: Suite, http: httpx.Client, login: Login
) -> None:
    phone = f"137{secrets.randbelow(10**8):08d}"
    username = f"rep.{secrets.token_hex(3)}"
    person = http.post(
        "/v1/persons",
        headers=login("staff.nh"),
        json={
            "name": "钱法人",
            "id_number": resident_id("19750505"),
            "org_path": f"{DISTRICT}/NH",
            "phone": phone,
            "account": {"username": username, "password": "Rep-pass-2026"},
        },
    )
    assert person.status_code == 201, person.text
    representative = {"Authorization": f"Bearer {token_for(http, username, 'Rep-pass-2026')}"}
    name = f"钱氏商贸有限公司{secrets.randbelow(1000)}"
    org = http.post(
        "/v1/organisations",
        headers=login("staff.nh"),
        json={
            "name": name,
            "credit_code": credit_code(),
            "org_path": f"{DISTRICT}/NH",
            "legal_representative": person.json()["id"],
        },
    )
    assert org.status_code == 201, org.text
    org_id = org.json()["id"]
    held = http.get("/v1/me/organisations", headers=representative).json()
    assert [(o["id"], o["role"]) for o in held] == [(org_id, "legal_representative")]

    group = f"rep-{secrets.token_hex(3)}"
    facts = {"facts": {"rd_expense": 200000, "pilot_group": group}}
    written = http.put(f"/v1/subjects/{org_id}/facts", headers=login("admin"), json=facts)
    assert written.status_code == 200, written.text
    staff = login("staff.sj")
    body = {
        "code": f"rd-{group}",
        "title": "小微企业研发补助",
        "department": "区市场监管局",
        "category": "innovation",
        "subject_type": "organisation",
        "mode": "confirm",
        "payout_period": "yearly",
        "budget": 1_000_000,
        "conditions": {
            "all": [
                {
                    "fact": "pilot_group",
                    "op": "==",
                    "value": group,
                    "label": "试点企业",
                    "clause": "附件",
                },
                {
                    "fact": "rd_expense",
                    "op": ">",
                    "value": 0,
                    "label": "有研发投入",
                    "clause": "第四条",
                },
            ]
        },
        "amount": {"rate": 0.1, "of": "rd_expense"},
    }
    policy = http.post("/v1/policies", headers=staff, json=body)
    assert policy.status_code == 201, policy.text
    pid = policy.json()["id"]
    assert http.post(f"/v1/policies/{pid}/publish", headers=staff).status_code == 200
    texts = eventually(
        lambda: [t for t in texts_to(running_suite, phone) if "小微企业研发补助" in t["text"]]
    )
    assert f"您的企业“{name}”符合“小微企业研发补助”" in texts[0]["text"], texts
    year = str(datetime.now(timezone(timedelta(hours=8))).year)
    run = http.post(f"/v1/policies/{pid}/payout-runs", headers=staff, json={"period": year})
    assert run.json()["offered"] == 1, run.text
    offers = http.get("/v1/me/payouts", headers=representative).json()
    offer = next(p for p in offers if p["code"] == body["code"])
    assert (offer["subject"], offer["amount"]) == (org_id, 20000)
    confirmed = http.post(f"/v1/me/payouts/{offer['id']}/confirm", headers=representative)
    assert confirmed.status_code == 200, confirmed.text
    stranger = fresh_citizen(http, login("staff.nh"), "路人")[1]
    assert assert_problem(http.post(f"/v1/me/payouts/{offer['id']}/decline", headers=stranger), 404)


def test_a_disputed_fact_is_reviewed_through_a_task_and_corrected(
    http: httpx.Client, login: Login, person: dict[str, Any]
) -> None:
    disputed = http.post(
        "/v1/me/fact-corrections",
        headers=person["headers"],
        json={"fact": "device_price", "proposed": 350000, "evidence": "辅具评估中心复评报告"},
    )
    assert disputed.status_code == 201, disputed.text
    correction = disputed.json()
    assert correction["status"] == "pending"
    assert correction["current"] == 300000

    street = login("staff.nh")

    def review_task() -> dict[str, Any] | None:
        listed = http.get(
            "/v1/tasks", headers=street, params={"source": "policy_review", "limit": 200}
        ).json()["items"]
        return next((t for t in listed if t["external_id"] == correction["id"]), None)

    task = eventually(review_task)
    assert task is not None
    assert task["status"] == "created"

    other = http.post(
        f"/v1/fact-corrections/{correction['id']}/accept", headers=login("staff.tyj"), json={}
    )
    assert other.status_code == 404
    unreasoned = http.post(
        f"/v1/fact-corrections/{correction['id']}/reject", headers=street, json={}
    )
    assert unreasoned.status_code == 422
    accepted = http.post(
        f"/v1/fact-corrections/{correction['id']}/accept",
        headers=street,
        json={"reason": "复评属实"},
    )
    assert accepted.status_code == 200, accepted.text
    facts = http.get(f"/v1/subjects/{person['id']}/facts", headers=street).json()
    assert facts["device_price"]["value"] == 350000
    assert facts["device_price"]["source"] == "correction"
    mine = http.get("/v1/me/fact-corrections", headers=person["headers"]).json()
    assert (mine[0]["id"], mine[0]["status"]) == (correction["id"], "accepted")
    closed = eventually(lambda: (review_task() or {}).get("status") == "closed")
    assert closed


def test_eligible_but_not_receiving_become_tasks_of_the_responsible_unit_by_themselves(
    http: httpx.Client, login: Login
) -> None:
    """应享未享 without a button: publishing finds who qualifies and tells the department
    that administers the policy (民政局, as in Hulan), once; a certificate issued later that
    makes someone eligible does the same at once."""
    staff, street, civil = login("staff.cl"), login("staff.nh"), login("staff.mz")
    group = f"outreach-{secrets.token_hex(3)}"
    people = [register(http, login, n, "19950505") for n in ("丁四", "戊五")]
    for person in people:
        assert eventually(
            lambda p=person: (
                http.put(
                    f"/v1/subjects/{p}/facts",
                    headers=street,
                    json={"facts": {"pilot_group": group}},
                ).status_code
                == 200
            )
        )
    body = {
        "code": group,
        "title": "助残服务包",
        "department": "区民政局",
        "category": "disability",
        "subject_type": "person",
        "mode": "push",
        "responsible_unit": f"{DISTRICT}/MZ",
        "conditions": {
            "all": [
                {"fact": "pilot_group", "op": "==", "value": group, "label": "服务对象"},
                {"fact": "disability_category", "op": "exists", "label": "持有残疾人证"},
            ]
        },
    }
    elsewhere = http.post(
        "/v1/policies", headers=staff, json={**body, "responsible_unit": "CN-LN-DL/ZS"}
    )
    assert assert_problem(elsewhere, 422)["field"] == "responsible_unit"
    policy = http.post("/v1/policies", headers=staff, json=body).json()
    first = people[0]
    disabled(http, login, first, "视力", {"pilot_group": group})  # before it is published
    assert http.post(f"/v1/policies/{policy['id']}/publish", headers=staff).status_code == 200

    def listed(headers: dict[str, str]) -> dict[str, Any]:
        answer = http.get(f"/v1/policies/{policy['id']}/unreceived", headers=headers)
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found

    assert [u["subject"] for u in listed(civil)["items"]] == [first]
    assert listed(civil)["counts"]["unreceived"] == 1
    assert [u["subject"] for u in listed(street)["items"]] == [first]
    assert listed(login("staff.tyj"))["items"] == []  # another street sees none of them

    def outreach() -> list[dict[str, Any]]:
        items = http.get(
            "/v1/tasks", headers=civil, params={"source": "policy_unreceived", "limit": 200}
        ).json()["items"]
        return [t for t in items if t["external_id"].startswith(f"{group}:")]

    assert eventually(lambda: len(outreach()) == 1)
    assert outreach()[0]["external_id"] == f"{group}:{first}"
    assert first not in outreach()[0]["description"]  # no internal id in what people read

    second = people[1]
    disabled(http, login, second, "肢体", {"pilot_group": group})  # a certificate issued now
    assert eventually(lambda: len(outreach()) == 2)
    assert sorted(u["subject"] for u in listed(civil)["items"]) == sorted(people)
    again = http.post(f"/v1/policies/{policy['id']}/unreceived/tasks", headers=civil).json()
    assert (again["eligible_unreceived"], again["tasks_requested"]) == (2, 0)  # none twice


def test_the_payment_callback_is_signed_idempotent_and_never_contradicted(
    http: httpx.Client, login: Login, running_suite: Any
) -> None:
    """The payment partner's callback settles a payout; a forged or stale signature is
    refused; the same callback twice changes nothing; one naming another amount is refused."""
    staff = login("staff.cl")
    person = register(http, login, "丁四", "19850101")
    disabled(http, login, person, "视力", {"device_price": 50000, "pilot_group": "cb"})
    body = {**pilot_policy(1_000_000), "code": "callback-pilot"}
    body["conditions"]["all"][-1]["value"] = "cb"
    policy = http.post("/v1/policies", headers=staff, json=body).json()
    assert http.post(f"/v1/policies/{policy['id']}/publish", headers=staff).status_code == 200
    http.post(f"/v1/policies/{policy['id']}/payout-runs", headers=staff, json={"period": "once"})

    secret = running_suite.secret("PAYMENT_SECRET")
    payout_id = f"callback-pilot:once:{person}"

    def send(news: dict[str, Any], key: str = secret, stamp: int | None = None) -> httpx.Response:
        raw = json.dumps(news, separators=(",", ":")).encode()
        signature = timestamped_signature(key, stamp or int(time.time()), raw)
        return http.post(
            "/v1/payment-callbacks",
            content=raw,
            headers={"Content-Type": "application/json", "X-Signature": signature},
        )

    def ledger() -> dict[str, Any]:
        return ledger_of(http, staff, policy["id"])

    assert eventually(lambda: paid_count(ledger()) == 1)
    paid = ledger()
    news = {"payout_id": payout_id, "payment_id": "pay_forged", "status": "paid", "amount": 50000}
    forged = send(news, key="not-the-secret")
    assert forged.status_code == 401
    assert forged.json()["field"] == "X-Signature"
    stale = send(news, stamp=int(time.time()) - 3600)
    assert stale.status_code == 401
    other = send(news)  # properly signed, but another payment than the one that paid it
    assert other.status_code == 409
    assert other.json()["field"] == "payment_id"
    unknown = send({**news, "payout_id": "callback-pilot:once:p_nobody00"})
    assert unknown.status_code == 404
    assert ledger() == paid  # nothing changed


def test_a_monthly_run_pays_the_month_begun_and_records_what_it_used(
    http: httpx.Client, login: Login
) -> None:
    """A month that has not begun is refused; a month's payout keeps the facts it used, the
    derived age marked as derived, and the amount row chosen."""
    code = f"monthly-{secrets.token_hex(3)}"
    person, me = fresh_citizen(http, login("staff.nh"))  # born 1960: past 60
    fed = http.put(
        f"/v1/subjects/{person}/facts",
        headers=login("staff.nh"),
        json={"facts": {"pilot_group": code}},
    )
    assert fed.status_code == 200, fed.text

    def born() -> bool:
        facts = http.get(f"/v1/subjects/{person}/facts", headers=login("staff.nh")).json()
        return "birth_date" in facts

    assert eventually(born)
    body = {
        "code": code,
        "title": "高龄津贴",
        "department": "区民政局",
        "category": "elderly",
        "subject_type": "person",
        "mode": "auto",
        "payout_period": "monthly",
        "effective_from": datetime.now(timezone(timedelta(hours=8)))
        .date()
        .replace(day=1)
        .isoformat(),
        "budget": 10_000_000,
        "conditions": {"fact": "pilot_group", "op": "==", "value": code, "label": "试点"},
        "amount": {
            "table": [
                {
                    "when": {"fact": "age", "op": ">=", "value": 60, "label": "年满60周岁"},
                    "amount": {"fixed": 5000},
                }
            ],
            "otherwise": {"fixed": 3000},
        },
    }
    staff = login("staff.cl")
    policy = http.post("/v1/policies", headers=staff, json=body)
    assert policy.status_code == 201, policy.text
    pid = policy.json()["id"]
    assert http.post(f"/v1/policies/{pid}/publish", headers=staff).status_code == 200
    today = datetime.now(timezone(timedelta(hours=8))).date()
    following = (today.replace(day=1) + timedelta(days=32)).strftime("%Y-%m")
    before = (today.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    for odd in (today.strftime("%Y-%m") + "\n", "0000-01", "9999-12", before):
        refused = http.post(f"/v1/policies/{pid}/payout-runs", headers=staff, json={"period": odd})
        assert assert_problem(refused, 422)["field"] == "period", odd  # before it took effect
    ahead = http.post(f"/v1/policies/{pid}/payout-runs", headers=staff, json={"period": following})
    assert ahead.status_code == 422, ahead.text
    assert ahead.json()["field"] == "period"
    assert "not begun" in ahead.json()["detail"]
    run = http.post(
        f"/v1/policies/{pid}/payout-runs", headers=staff, json={"period": today.strftime("%Y-%m")}
    )
    assert run.status_code == 200, run.text
    assert run.json()["eligible"] == 1
    mine = [p for p in http.get("/v1/me/payouts", headers=me).json() if p["code"] == code]
    assert [p["amount"] for p in mine] == [5000]
    decision = mine[0]["decision"]
    assert decision["amount_row"] == {"row": 0, "label": "年满60周岁"}
    assert decision["facts"]["age"]["source"] == "derived"
    assert decision["facts"]["age"]["value"] >= 60
