"""The ways through that an attacker found (issue #15's examples), each tried again as they
were tried then, each refused now as a user would notice."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable
from typing import Any

import httpx

from tests.e2e.support import fresh_account, grant_proxy
from tests.e2e.test_certs import issue_disability
from tests.e2e.test_foundation import assert_problem
from tests.e2e.test_policy import eventually
from tests.idnumbers import resident_id

Login = Callable[[str], dict[str, str]]
DISTRICT = "CN-LN-SY/HP"


def person(
    http: httpx.Client, login: Login, street: str, login_name: str | None = None
) -> dict[str, Any]:
    registrar = {"NH": "staff.nh", "TYJ": "staff.tyj"}[street]
    body: dict[str, Any] = {
        "name": "信任测试",
        "id_number": resident_id("19770707"),
        "org_path": f"{DISTRICT}/{street}",
    }
    if login_name:
        body["account"] = {"username": login_name, "password": "Trust-pass-2026"}
    made = http.post("/v1/persons", headers=login(registrar), json=body)
    assert made.status_code == 201, made.text
    found: dict[str, Any] = {**made.json(), "id_number": body["id_number"], "username": login_name}
    return found


def bearer(http: httpx.Client, found: dict[str, Any]) -> dict[str, str]:
    granted = http.post(
        "/v1/auth/token",
        data={
            "grant_type": "password",
            "username": found["username"],
            "password": "Trust-pass-2026",
        },
    )
    assert granted.status_code == 200, granted.text
    return {"Authorization": f"Bearer {granted.json()['access_token']}"}


def partner(http: httpx.Client, login: Login, scopes: list[str], area: str) -> dict[str, str]:
    client_id = f"trust-{secrets.token_hex(3)}"
    made = http.post(
        "/v1/partner-clients",
        headers=login("admin"),
        json={"client_id": client_id, "name": "测试伙伴", "scopes": scopes, "org_path": area},
    ).json()
    form = {
        "grant_type": "client_credentials",
        "client_id": client_id,
        "client_secret": made["client_secret"],
    }
    return {
        "Authorization": f"Bearer {http.post('/v1/auth/token', data=form).json()['access_token']}"
    }


def test_a_street_clerk_cannot_bind_a_login_to_another_streets_resident(
    http: httpx.Client, login: Login
) -> None:
    elsewhere = person(http, login, "TYJ")
    account = {
        "username": f"takeover.{secrets.token_hex(3)}",
        "password": "Takeover-2026",
        "roles": ["citizen"],
        "org_path": f"{DISTRICT}/NH",
        "subject_id": elsewhere["id"],
    }
    stolen = http.post("/v1/accounts", headers=login("staff.nh"), json=account)
    assert assert_problem(stolen, 404)["field"] == "subject_id"
    assert_problem(
        http.post(
            "/v1/auth/token",
            data={
                "grant_type": "password",
                **{"username": account["username"], "password": "Takeover-2026"},
            },
        ),
        401,
    )
    # In the clerk's own street: a person who has a login already cannot get a second one.
    own = person(http, login, "NH", login_name=f"own.{secrets.token_hex(3)}")
    again = http.post(
        "/v1/accounts",
        headers=login("staff.nh"),
        json={**account, "username": f"second.{secrets.token_hex(3)}", "subject_id": own["id"]},
    )
    assert assert_problem(again, 409)["field"] == "subject_id"


def test_staff_read_only_the_certificates_of_their_area_or_department(
    http: httpx.Client, login: Login
) -> None:
    resident = person(http, login, "NH")
    issued = issue_disability(
        http, login("staff.cl"), resident["id"], "视力", "二级", f"t-{resident['id']}"
    )
    assert issued.status_code == 201, issued.text
    certificate = issued.json()
    mine = http.get(
        "/v1/certificates/by-subject", params={"subject": resident["id"]}, headers=login("staff.nh")
    ).json()
    assert [c["id"] for c in mine] == [certificate["id"]]
    other_street = http.get(
        "/v1/certificates/by-subject",
        params={"subject": resident["id"]},
        headers=login("staff.tyj"),
    )
    assert other_street.json() == []  # as for a person with none
    versions = http.get(
        f"/v1/certificates/{certificate['id']}/versions", headers=login("staff.tyj")
    )
    assert_problem(versions, 404)
    department = http.get(
        f"/v1/certificates/{certificate['id']}/versions", headers=login("staff.cl")
    )
    assert department.status_code == 200


def test_the_public_check_is_no_register_of_holders(http: httpx.Client, login: Login) -> None:
    residents = [
        person(http, login, "NH", login_name=f"holder.{secrets.token_hex(3)}") for _ in range(2)
    ]
    resident = residents[1]
    staff = login("staff.cl")
    numbers = [
        issue_disability(http, staff, r["id"], "肢体", "一级", f"r-{r['id']}").json()["number"]
        for r in residents
    ]
    assert all(re.fullmatch(r"HPCL-\d{4}-[0-9A-HJKMNP-TV-Z]{10}", n) for n in numbers)
    assert numbers[0][:-10] == numbers[1][:-10]
    assert numbers[0] != numbers[1]
    checked = http.get(f"/v1/certificates/{numbers[1]}/verify").json()
    assert checked["result"] == "authentic"
    shown = json.dumps(checked, ensure_ascii=False)
    for private in ("信任测试", "肢体", "一级", resident["id"]):
        assert private not in shown
    # A presentation showing one field opens nothing more through its number.
    holder = bearer(http, resident)
    wallet = http.get("/v1/me/certificates", headers=holder).json()
    certificate = next(c for c in wallet if c["number"] == numbers[1])
    presented = http.post(
        "/v1/presentations",
        headers=holder,
        json={"certificate_ids": [certificate["id"]], "fields": ["grade"]},
    ).json()["token"]
    seen = http.post(
        "/v1/presentations/verify", headers=login("verifier.hotel"), json={"token": presented}
    ).json()["certificates"][0]
    assert set(seen["fields"]) == {"grade"}
    again = http.get(f"/v1/certificates/{seen['number']}/verify").json()
    assert "face" not in again
    assert "肢体" not in json.dumps(again, ensure_ascii=False)


def test_one_department_cannot_retire_anothers_policy(http: httpx.Client, login: Login) -> None:
    code = f"trust-{secrets.token_hex(3)}"
    body = {
        "code": code,
        "title": "残疾人补贴",
        "department": "区残联",
        "category": "助残",
        "subject_type": "person",
        "conditions": {"fact": "age", "op": ">=", "value": 18, "label": "成年"},
    }
    owned = http.post("/v1/policies", headers=login("staff.cl"), json=body).json()
    assert (
        http.post(f"/v1/policies/{owned['id']}/publish", headers=login("staff.cl")).status_code
        == 200
    )
    taken = http.post(
        "/v1/policies", headers=login("staff.sj"), json={**body, "department": "市场监管"}
    )
    assert assert_problem(taken, 409)["field"] == "code"
    lookalike = http.post(
        "/v1/policies", headers=login("staff.sj"), json={**body, "code": code.upper()}
    )
    assert assert_problem(lookalike, 409)["field"] == "code"  # one code, however it is typed
    trailing = http.post(
        "/v1/policies", headers=login("staff.sj"), json={**body, "code": code + "\n"}
    )
    assert assert_problem(trailing, 422)["field"] == "code"
    retire = http.post(f"/v1/policies/{owned['id']}/retire", headers=login("staff.sj"))
    assert_problem(retire, 403)
    assert http.get(f"/v1/policies/{owned['id']}", headers=login("staff.cl")).json()["status"] == (
        "published"
    )


def test_simulating_a_draft_names_no_resident_outside_the_authors_area(
    http: httpx.Client, login: Login
) -> None:
    """A department's author learns how many nearly qualify, and where; only a clerk whose
    area the resident lives in sees who, with the fact that is missing."""
    resident = person(http, login, "NH")  # an adult with no disability certificate
    conditions = {
        "all": [
            {"fact": "age", "op": ">=", "value": 18, "label": "成年"},
            {"fact": "disability_category", "op": "exists", "label": "持有残疾人证"},
        ]
    }

    def simulate(author: str) -> dict[str, Any]:
        body = {
            "code": f"sim-{secrets.token_hex(3)}",
            "title": "模拟测算",
            "department": "测试",
            "category": "助残",
            "subject_type": "person",
            "conditions": conditions,
        }
        draft = http.post("/v1/policies", headers=login(author), json=body)
        assert draft.status_code == 201, draft.text
        done = http.post(f"/v1/policies/{draft.json()['id']}/simulate", headers=login(author))
        assert done.status_code == 200, done.text
        answer: dict[str, Any] = done.json()
        return answer

    department = simulate("staff.cl")
    assert resident["id"] not in json.dumps(department)
    assert department["near_misses"] == []
    rows = {(n["org_unit"], n["label"]): n for n in department["near_miss_counts"]}
    row = rows[(f"{DISTRICT}/NH", "持有残疾人证")]
    assert row["count"] >= 10 if row["count"] is not None else row["fewer_than"] == 10
    street = simulate("staff.nh")
    named = [n["subject"] for n in street["near_misses"]]
    assert all(n["org_unit"].startswith(f"{DISTRICT}/NH") for n in street["near_misses"])
    assert named  # the street's own residents, by name of record
    elsewhere = simulate("staff.tyj")
    assert resident["id"] not in [n["subject"] for n in elsewhere["near_misses"]]

    # A draft written to single out one resident of another street tells nothing of them.
    marker = f"one-{secrets.token_hex(3)}"
    noted = http.put(
        f"/v1/subjects/{resident['id']}/facts",
        headers=login("staff.nh"),
        json={"facts": {"pilot_group": marker, "device_price": 234500}},
    )
    assert noted.status_code == 200, noted.text
    conditions = {"fact": "pilot_group", "op": "==", "value": marker, "label": "单个"}
    for author in ("staff.tyj", "staff.cl"):
        body = {
            "code": f"one-{secrets.token_hex(3)}",
            "title": "单人测算",
            "department": "测试",
            "category": "助残",
            "subject_type": "person",
            "conditions": conditions,
            "amount": {"rate": 1, "of": "device_price"},
        }
        draft = http.post("/v1/policies", headers=login(author), json=body).json()
        told = http.post(f"/v1/policies/{draft['id']}/simulate", headers=login(author)).json()
        assert told["eligible"] is None
        assert told["total_amount"] is None
        assert told["fewer_than"] == 10
        assert "234500" not in json.dumps(told)
        assert [r["eligible"] for r in told["by_org_unit"]] == [None]


def test_facts_only_certificates_or_identity_state_cannot_be_typed_in(
    http: httpx.Client, login: Login
) -> None:
    resident = person(http, login, "NH")
    street = login("staff.nh")
    for fact, value in (
        ("cert_disability_certificate", "valid"),
        ("disability_grade", "一级"),
        ("birth_date", "1930-01-01"),
        ("age", 99),
    ):
        written = http.put(
            f"/v1/subjects/{resident['id']}/facts", headers=street, json={"facts": {fact: value}}
        )
        refused = assert_problem(written, 403)
        assert refused["field"] == f"facts.{fact}"
        assert refused["code"] == "fact_source"
    fed = http.put(
        f"/v1/subjects/{resident['id']}/facts", headers=street, json={"facts": {"low_income": True}}
    )
    assert fed.status_code == 200, fed.text  # a feed fact: the street states it


def test_routing_rules_stay_in_their_owners_area(http: httpx.Client, login: Login) -> None:
    category = f"trust_{secrets.token_hex(3)}"
    rule = http.post(
        "/v1/routing-rules",
        headers=login("supervisor.tyj"),
        json={"match": {"category": category}, "unit": f"{DISTRICT}/TYJ"},
    )
    assert rule.status_code == 201, rule.text
    elsewhere = http.post(
        "/v1/routing-rules",
        headers=login("supervisor.tyj"),
        json={"match": {"category": category}, "unit": f"{DISTRICT}/NH"},
    )
    assert assert_problem(elsewhere, 404)["field"] == "unit"  # not into another street
    task = http.post(
        "/v1/tasks",
        headers=login("supervisor.nh"),
        json={"title": "噪音", "category": category, "jurisdiction": f"{DISTRICT}/NH"},
    ).json()
    assert task["status"] == "created"  # 太原街's rule does not pull 南湖's task in
    assert task.get("receiver") is None
    removed = http.delete(f"/v1/routing-rules/{rule.json()['id']}", headers=login("supervisor.nh"))
    assert_problem(removed, 404)
    assert (
        http.delete(
            f"/v1/routing-rules/{rule.json()['id']}", headers=login("supervisor.hp")
        ).status_code
        == 204
    )  # the district above may


def test_a_partner_reads_its_own_tasks_and_feeds_facts_only_of_its_area(
    http: httpx.Client, login: Login
) -> None:
    hotline = partner(http, login, ["tasks:read", "tasks:write"], DISTRICT)
    staff_task = http.post(
        "/v1/tasks",
        headers=login("supervisor.hp"),
        json={"title": "内部督办", "category": "internal", "units": [f"{DISTRICT}/NH"]},
    ).json()
    for path in ("", "/history"):
        assert_problem(http.get(f"/v1/tasks/{staff_task['id']}{path}", headers=hotline), 404)
    listed = http.get("/v1/tasks", headers=hotline, params={"limit": 200}).json()["items"]
    assert staff_task["id"] not in [t["id"] for t in listed]

    feed = partner(http, login, ["facts:write"], f"{DISTRICT}/NH")
    mine, theirs = person(http, login, "NH"), person(http, login, "TYJ")
    assert (
        http.put(
            f"/v1/subjects/{mine['id']}/facts", headers=feed, json={"facts": {"employees": 3}}
        ).status_code
        == 200
    )
    for subject in (theirs["id"], "p_0000000000000000"):
        assert_problem(
            http.put(
                f"/v1/subjects/{subject}/facts", headers=feed, json={"facts": {"employees": 3}}
            ),
            404,
        )
    lines = "\n".join(
        json.dumps({"subject": s, "facts": {"employees": 5}})
        for s in (mine["id"], theirs["id"], "p_0000000000000000")
    )
    report = http.post(
        "/v1/facts:bulk",
        headers={**feed, "Content-Type": "application/x-ndjson"},
        params={"batch_id": f"b-{secrets.token_hex(3)}"},
        content=lines,
    ).json()
    assert report["applied"] == 1
    assert [(e["line"], e["detail"]) for e in report["errors"]] == [
        (2, "no such subject"),
        (3, "no such subject"),
    ]


def test_payouts_follow_the_confirm_payouts_scope_and_disclosures_their_holder(
    http: httpx.Client, login: Login
) -> None:
    elder = person(http, login, "NH", login_name=f"elder.{secrets.token_hex(3)}")
    helper = person(http, login, "NH", login_name=f"helper.{secrets.token_hex(3)}")

    elder_h, helper_h = bearer(http, elder), bearer(http, helper)
    grant_proxy(http, elder_h, helper_h, helper["id_number"], "信任测试", ["apply"])
    issue_disability(http, login("staff.cl"), elder["id"], "视力", "二级", f"p-{elder['id']}")

    def learnt() -> bool:
        facts = http.get(f"/v1/subjects/{elder['id']}/facts", headers=login("staff.nh")).json()
        return facts.get("cert_disability_certificate", {}).get("value") == "valid"

    assert eventually(learnt)
    code = f"trust-pay-{secrets.token_hex(3)}"
    body = {
        "code": code,
        "title": "护理补贴",
        "department": "区残联",
        "category": "助残",
        "subject_type": "person",
        "mode": "confirm",
        "conditions": {
            "all": [
                {
                    "fact": "cert_disability_certificate",
                    "op": "==",
                    "value": "valid",
                    "label": "持证",
                },
                # This test's elder alone: no other test's citizens are texted or paid.
                {"fact": "pilot_group", "op": "==", "value": code, "label": "试点"},
            ]
        },
        "amount": {"fixed": 10000},
    }
    piloted = http.put(
        f"/v1/subjects/{elder['id']}/facts",
        headers=login("staff.nh"),
        json={"facts": {"pilot_group": code}},
    )
    assert piloted.status_code == 200, piloted.text
    policy = http.post("/v1/policies", headers=login("staff.cl"), json=body).json()
    http.post(f"/v1/policies/{policy['id']}/publish", headers=login("staff.cl"))
    http.post(
        f"/v1/policies/{policy['id']}/payout-runs",
        headers=login("staff.cl"),
        json={"period": "once"},
    )
    payout = f"{code}:once:{elder['id']}"
    assert payout not in [p["id"] for p in http.get("/v1/me/payouts", headers=helper_h).json()]
    assert_problem(http.post(f"/v1/me/payouts/{payout}/confirm", headers=helper_h), 404)
    grant_proxy(http, elder_h, helper_h, helper["id_number"], "信任测试", ["confirm_payouts"])
    assert payout in [p["id"] for p in http.get("/v1/me/payouts", headers=helper_h).json()]
    confirmed = http.post(f"/v1/me/payouts/{payout}/confirm", headers=helper_h)
    assert confirmed.status_code == 200, confirmed.text

    def confirmed_for_me() -> list[dict[str, Any]]:
        seen = http.get("/v1/me/activity", headers=elder_h).json()
        return [a for a in seen if a["action"] == "confirm_payout"]

    act = eventually(confirmed_for_me)  # the elder reads who confirmed it in her name
    named = http.get("/v1/me/payouts", headers={**helper_h, "X-On-Behalf-Of": elder["id"]})
    assert named.status_code == 200, named.text
    assert payout in [p["id"] for p in named.json()]
    stranger = http.get(
        "/v1/me/payouts", headers={**helper_h, "X-On-Behalf-Of": "p_0000000000000000"}
    )
    assert assert_problem(stranger, 403)["code"] == "not_delegated"
    assert [(a["by"]["id"], a["detail"]["ref"]) for a in act] == [(helper["id"], payout)]

    # The helper's own certificate, shown by the helper: the elder does not see that.
    issue_disability(http, login("staff.cl"), helper["id"], "肢体", "四级", f"q-{helper['id']}")
    own = next(
        c
        for c in http.get("/v1/me/certificates", headers=helper_h).json()
        if c["subject"] == helper["id"]
    )
    shown = http.post(
        "/v1/presentations",
        headers=helper_h,
        json={"certificate_ids": [own["id"]], "fields": ["grade"]},
    ).json()["token"]
    http.post("/v1/presentations/verify", headers=login("verifier.hotel"), json={"token": shown})
    assert own["number"] not in [
        d["number"] for d in http.get("/v1/me/disclosures", headers=elder_h).json()
    ]
    assert own["number"] in [
        d["number"] for d in http.get("/v1/me/disclosures", headers=helper_h).json()
    ]


def test_registering_a_number_held_elsewhere_tells_nothing_of_the_person(
    http: httpx.Client, login: Login
) -> None:
    resident = person(http, login, "NH", login_name=f"held.{secrets.token_hex(3)}")
    body = {"name": "冒名", "id_number": resident["id_number"], "org_path": f"{DISTRICT}/TYJ"}
    elsewhere = http.post("/v1/persons", headers=login("staff.tyj"), json=body)
    refusal = assert_problem(elsewhere, 409)
    assert refusal["code"] == "not_registrable_here"
    assert resident["id"] not in elsewhere.text
    assert "信任测试" not in elsewhere.text
    here = http.post(
        "/v1/persons", headers=login("staff.nh"), json={**body, "org_path": f"{DISTRICT}/NH"}
    )
    assert assert_problem(here, 409)["field"] == "id_number"  # the clerk's own resident
    # The same number tried again that day is the same attempt: shown once, counted once.
    for _ in range(3):
        again = http.post("/v1/persons", headers=login("staff.tyj"), json=body)
        assert assert_problem(again, 409)["code"] == "not_registrable_here"
    activity = http.get("/v1/me/activity", headers=bearer(http, resident)).json()
    attempts = [a for a in activity if a["detail"].get("purpose") == "registration_attempt"]
    assert len(attempts) == 1
    assert attempts[0]["by"]["name"] == "太原街街道"


def test_a_clerk_meets_at_most_twenty_numbers_of_elsewhere_a_day(
    http: httpx.Client, login: Login
) -> None:
    """Counted per number: the twenty-first distinct number held elsewhere is refused until
    Beijing's midnight; a number already tried that day is not counted again."""
    _account, clerk = fresh_account(http, login("admin"), "counting", ["staff"], f"{DISTRICT}/TYJ")
    residents = [person(http, login, "NH") for _ in range(21)]
    answers = []
    for resident in residents:
        body = {"name": "冒名", "id_number": resident["id_number"], "org_path": f"{DISTRICT}/TYJ"}
        answers.append(http.post("/v1/persons", headers=clerk, json=body))
        if len(answers) == 1:  # the first number again and again: one attempt
            for _ in range(5):
                http.post("/v1/persons", headers=clerk, json=body)
    assert [a.status_code for a in answers] == [409] * 20 + [429]
    retry = int(answers[-1].headers["Retry-After"])
    assert 0 < retry <= 86_400


def test_a_lockout_tells_nobody_which_names_exist(http: httpx.Client, login: Login) -> None:
    """Five wrong passwords lock a name from that address whether the name exists or not, so
    a 429 is no sign of an account; and the answers before it are the same 401."""
    real = person(http, login, "NH", login_name=f"lock.{secrets.token_hex(3)}")["username"]
    unknown = f"nobody.{secrets.token_hex(3)}"
    answers: dict[str, list[tuple[int, str]]] = {}
    for name in (real, unknown):
        form = {"grant_type": "password", "username": name, "password": "Wrong-pass-2026"}
        tries = [http.post("/v1/auth/token", data=form) for _ in range(5)]
        after = http.post("/v1/auth/token", data={**form, "password": "Trust-pass-2026"})
        answers[name] = [(t.status_code, t.json()["detail"]) for t in [*tries, after]]
        assert after.status_code == 429
        assert 800 < int(after.headers["retry-after"]) <= 901
    assert answers[real] == answers[unknown]
