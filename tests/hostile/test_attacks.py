"""An attacker's suite, written from the classes of holes the access model closes: binding a
record to someone out of reach, reading or acting outside one's jurisdiction or department,
counting the public register, taking another's code or rule, stating facts one is not the
source of, a partner reaching past its own records, acting for someone without their scope,
replaying a secret, a session that outlives its end, escalating one's own roles. Each attack
is tried as it would be, on the hostile suite (started as ``make up`` starts it, demo city
loaded); each is refused as its victim would want, and a read by someone entitled shows that
nothing was written."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, Suite
from tests.e2e.conftest import DEMO_PASSWORD, token_for
from tests.e2e.test_certs import issue_disability

PROBLEM = "application/problem+json"
HP = "CN-LN-SY/HP"
As = Callable[[str], dict[str, str]]


@pytest.fixture(scope="module")
def http(hostile_suite: Suite, city: dict[str, Any]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=hostile_suite.base_url, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def as_(http: httpx.Client) -> As:
    cache: dict[str, dict[str, str]] = {}

    def headers(username: str) -> dict[str, str]:
        if username not in cache:
            cache[username] = {
                "Authorization": f"Bearer {token_for(http, username, DEMO_PASSWORD)}"
            }
        return cache[username]

    return headers


def refused(answer: httpx.Response, *statuses: int) -> dict[str, Any]:
    assert answer.status_code in statuses, f"{answer.status_code} {answer.text}"
    assert answer.headers["content-type"] == PROBLEM
    body: dict[str, Any] = answer.json()
    return body


def subject_of(http: httpx.Client, as_: As, username: str) -> str:
    return str(http.get("/v1/me", headers=as_(username)).json()["subject_id"])


def test_a_login_bound_to_another_streets_resident(http: httpx.Client, as_: As) -> None:
    li = subject_of(http, as_, "citizen.li")  # 太原街
    username = f"takeover.{secrets.token_hex(3)}"
    attack = {
        "username": username,
        "password": "Takeover-2026",
        "roles": ["citizen"],
        "org_path": f"{HP}/NH",
        "subject_id": li,
    }
    refused(http.post("/v1/accounts", headers=as_("staff.nh"), json=attack), 404)
    form = {"grant_type": "password", "username": username, "password": "Takeover-2026"}
    refused(http.post("/v1/auth/token", data=form), 401)  # nothing was created
    assert http.get("/v1/me", headers=as_("citizen.li")).json()["subject_id"] == li


def test_roles_one_may_not_grant(http: httpx.Client, as_: As) -> None:
    username = f"rogue.{secrets.token_hex(3)}"
    for roles in (["admin"], ["supervisor"], ["staff"]):
        attack = {
            "username": username,
            "password": "Rogue-pass-2026",
            "roles": roles,
            "org_path": f"{HP}/NH",
        }
        refused(http.post("/v1/accounts", headers=as_("staff.nh"), json=attack), 403)
    form = {"grant_type": "password", "username": username, "password": "Rogue-pass-2026"}
    refused(http.post("/v1/auth/token", data=form), 401)


def test_another_departments_certificate(http: httpx.Client, as_: As) -> None:
    holder = subject_of(http, as_, "citizen.wang")
    issued = issue_disability(
        http, as_("staff.cl"), holder, "视力", "三级", f"atk-{secrets.token_hex(3)}"
    )
    certificate = issued.json()

    def held() -> list[tuple[str, str, str]]:
        listed = http.get(
            "/v1/certificates/by-subject", params={"subject": holder}, headers=as_("staff.cl")
        ).json()
        return sorted((c["id"], c["status"], c["fields"]["grade"]) for c in listed)

    before = held()
    forged = {
        "issuer": "iss_hpcl",
        "type": "disability_certificate",
        "subject": holder,
        "fields": {"category": "肢体", "grade": "一级"},
        "request_id": f"atk-{secrets.token_hex(3)}",
    }
    refused(http.post("/v1/certificates", headers=as_("staff.sj"), json=forged), 403)
    refused(
        http.post(
            f"/v1/certificates/{certificate['id']}/revoke",
            headers=as_("staff.sj"),
            json={"reason": "恶意注销"},
        ),
        404,
    )
    refused(
        http.post(
            f"/v1/certificates/{certificate['id']}/amend",
            headers=as_("staff.nh"),
            json={"fields": {"grade": "一级"}, "reason": "篡改"},
        ),
        403,  # the street sees its resident's certificate, but does not issue it
    )
    assert held() == before  # nothing issued, revoked or amended


def test_another_streets_resident_is_not_there(http: httpx.Client, as_: As) -> None:
    wang = subject_of(http, as_, "citizen.wang")  # 南湖
    tyj = as_("staff.tyj")
    refused(http.get(f"/v1/persons/{wang}", headers=tyj), 404)
    refused(http.post(f"/v1/persons/{wang}/freeze", headers=tyj, json={"reason": "x"}), 404)
    refused(http.post(f"/v1/persons/{wang}/printed-code", headers=tyj), 404)
    refused(http.get(f"/v1/subjects/{wang}/facts", headers=tyj), 404)
    assert http.post("/v1/me/code", headers=as_("citizen.wang")).status_code == 200  # not frozen


def test_counting_the_public_register(http: httpx.Client) -> None:
    for guess in ("HPCL-2026-0000001", "HPCL-2026-0000044", "HPCL-2026-0000045"):
        assert http.get(f"/v1/certificates/{guess}/verify").json()["result"] == "not_found"


def test_publishing_under_another_departments_policy_code(http: httpx.Client, as_: As) -> None:
    code = f"atk-{secrets.token_hex(3)}"
    body = {
        "code": code,
        "title": "助残补贴",
        "department": "区残联",
        "category": "助残",
        "subject_type": "person",
        "conditions": {"fact": "age", "op": ">=", "value": 18, "label": "成年"},
    }
    owned = http.post("/v1/policies", headers=as_("staff.cl"), json=body).json()
    http.post(f"/v1/policies/{owned['id']}/publish", headers=as_("staff.cl"))
    refused(http.post("/v1/policies", headers=as_("staff.sj"), json=body), 409)
    refused(http.post(f"/v1/policies/{owned['id']}/retire", headers=as_("staff.sj")), 403)
    refused(http.put(f"/v1/policies/{owned['id']}", headers=as_("staff.sj"), json=body), 403)
    assert http.get(f"/v1/policies/{owned['id']}", headers=as_("staff.cl")).json()["status"] == (
        "published"
    )


def test_stating_facts_one_is_not_the_source_of(http: httpx.Client, as_: As) -> None:
    wang = subject_of(http, as_, "citizen.wang")
    for fact, value in (("cert_disability_certificate", "valid"), ("birth_date", "1930-01-01")):
        answer = http.put(
            f"/v1/subjects/{wang}/facts", headers=as_("staff.nh"), json={"facts": {fact: value}}
        )
        assert refused(answer, 403)["field"] == f"facts.{fact}"
    facts = http.get(f"/v1/subjects/{wang}/facts", headers=as_("staff.nh")).json()
    assert facts.get("birth_date", {}).get("value") != "1930-01-01"
    assert facts.get("cert_disability_certificate", {}).get("source") != "staff"


def test_a_routing_rule_that_pulls_another_streets_tasks(http: httpx.Client, as_: As) -> None:
    before = http.get("/v1/routing-rules", headers=as_("supervisor.hp")).json()
    into_nh = {"match": {"category": "噪音扰民"}, "unit": f"{HP}/NH"}
    refused(http.post("/v1/routing-rules", headers=as_("supervisor.tyj"), json=into_nh), 404)
    wide = {"match": {"jurisdiction": HP}, "unit": f"{HP}/TYJ"}
    refused(http.post("/v1/routing-rules", headers=as_("supervisor.tyj"), json=wide), 404)
    for rule in before:
        refused(
            http.delete(f"/v1/routing-rules/{rule['id']}", headers=as_("supervisor.tyj")), 403, 404
        )
    assert http.get("/v1/routing-rules", headers=as_("supervisor.hp")).json() == before


def test_a_partner_reaching_past_its_own_records(
    http: httpx.Client, as_: As, city: dict[str, Any]
) -> None:
    form = {
        "grant_type": "client_credentials",
        "client_id": "hotline-12345",
        "client_secret": city["partners"]["hotline-12345"],
    }
    hotline = {
        "Authorization": f"Bearer {http.post('/v1/auth/token', data=form).json()['access_token']}"
    }
    internal = http.post(
        "/v1/tasks",
        headers=as_("supervisor.hp"),
        json={"title": "内部核查", "category": "内部", "units": [f"{HP}/NH"]},
    ).json()
    for path in ("", "/history"):
        refused(http.get(f"/v1/tasks/{internal['id']}{path}", headers=hotline), 404)
    for verb, body in (("accept", None), ("close", {"reason": "x"}), ("urge", {"note": "x"})):
        refused(http.post(f"/v1/tasks/{internal['id']}/{verb}", headers=hotline, json=body), 404)
    wang = subject_of(http, as_, "citizen.wang")
    refused(http.put(f"/v1/subjects/{wang}/facts", headers=hotline, json={"facts": {"x": 1}}), 403)
    seen = http.get(f"/v1/tasks/{internal['id']}", headers=as_("supervisor.hp")).json()
    assert seen["status"] == "dispatched"
    assert seen["urges"] == 0


def test_acting_for_someone_without_their_consent(http: httpx.Client, as_: As) -> None:
    wang = subject_of(http, as_, "citizen.wang")
    stranger = as_("citizen.xiaomei")
    for path in ("/v1/me/code", "/v1/applications"):
        answer = http.post(path, headers={**stranger, "X-On-Behalf-Of": wang}, json={})
        assert refused(answer, 403)["code"] == "not_delegated"
    # Asking to be someone's proxy is asked of them; the asker cannot accept for them.
    asked = http.post(
        "/v1/me/proxies",
        headers=stranger,
        json={
            "proxy_id_number": "210102196605041011",
            "proxy_name": "王建国",
            "scopes": ["show_code"],
            "valid_until": "2030-01-01T00:00:00Z",
        },
    ).json()
    refused(http.post(f"/v1/me/proxies/{asked['id']}/accept", headers=stranger), 403)
    mine = http.get("/v1/me/proxies", headers=stranger).json()["acting_for_me"]
    assert next(d for d in mine if d["id"] == asked["id"])["status"] == "pending"
    assert all(
        a["by"]["name"] != "王小梅"
        for a in http.get("/v1/me/activity", headers=as_("citizen.wang")).json()
    )


def test_a_terminal_reading_fields_of_another_scene(http: httpx.Client, as_: As) -> None:
    code = http.post("/v1/me/code", headers=as_("citizen.wang")).json()["token"]
    answer = http.post(
        "/v1/codes/verify", headers=as_("verifier.metro"), json={"token": code, "scene": "hotel"}
    )
    assert refused(answer, 403)["code"] == "scene_not_allowed"
    hotel = http.post(
        "/v1/codes/verify", headers=as_("verifier.hotel"), json={"token": code, "scene": "hotel"}
    )
    assert hotel.status_code == 200, hotel.text  # the refused scan did not use the code up


def test_a_session_that_should_have_ended(http: httpx.Client, as_: As) -> None:
    victim = {"Authorization": f"Bearer {token_for(http, 'citizen.li', DEMO_PASSWORD)}"}
    sessions = http.get("/v1/me/sessions", headers=victim).json()
    theirs = next(s["id"] for s in sessions if s["current"])
    refused(http.delete(f"/v1/me/sessions/{theirs}", headers=as_("citizen.wang")), 404)
    assert http.get("/v1/me", headers=victim).status_code == 200
    http.post("/v1/auth/logout", headers=victim)
    refused(http.get("/v1/me", headers=victim), 401)


def test_replaying_a_secret_shown_once(http: httpx.Client, city: dict[str, Any]) -> None:
    admin = {"Authorization": f"Bearer {token_for(http, ADMIN_USER, ADMIN_PASSWORD)}"}
    keyed = {**admin, "Idempotency-Key": secrets.token_hex(8)}
    body = {"client_id": f"atk-{secrets.token_hex(3)}", "name": "重放", "scopes": []}
    first = http.post("/v1/partner-clients", headers=keyed, json=body)
    assert first.status_code == 201
    replay = http.post("/v1/partner-clients", headers=keyed, json=body)
    assert refused(replay, 409)["code"] == "answer_withheld"
    assert first.json()["client_secret"] not in replay.text


def test_a_citizen_asking_for_staff_data(http: httpx.Client, as_: As) -> None:
    citizen = as_("citizen.wang")
    for path in ("/v1/accounts", "/v1/persons", "/v1/tasks", "/v1/partner-clients"):
        refused(http.get(path, headers=citizen), 403)
    li = subject_of(http, as_, "citizen.li")
    refused(http.get(f"/v1/subjects/{li}/facts", headers=citizen), 403)
    refused(http.get("/v1/certificates/by-subject", params={"subject": li}, headers=citizen), 403)


def test_unsafe_text_reaches_no_query(http: httpx.Client, as_: As) -> None:
    for path in ('/v1/persons/{"$ne":null}', "/v1/tasks/%7B%22%24gt%22%3A%22%22%7D"):
        refused(http.get(path, headers=as_("staff.nh")), 404)
    fake = json.dumps({"subject": {"$ne": None}, "facts": {"x": 1}})
    report = http.post(
        "/v1/facts:bulk",
        headers={**as_("staff.nh"), "Content-Type": "application/x-ndjson"},
        params={"batch_id": secrets.token_hex(4)},
        content=fake,
    ).json()
    assert report["applied"] == 0
