"""E-certificates end to end: issue, the holder's wallet, the public check, revocation, the
signed status list, and the events other services learn from."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.certs import statuslist
from services.certs.signing import seal_valid
from services.common.crypto import public_key_from_jwk
from tests.conftest import Suite
from tests.e2e.support import (
    event_queue,
    eventually,
    fresh_account,
    fresh_citizen,
    grant_proxy,
    next_event,
    run_verifier,
)
from tests.e2e.test_foundation import assert_problem
from tests.idnumbers import credit_code

Login = Callable[[str], dict[str, str]]


def subject_of(http: httpx.Client, login: Login, username: str) -> str:
    sub: str = http.get("/v1/me", headers=login(username)).json()["subject_id"]
    return sub


def issue(http: httpx.Client, staff: dict[str, str], **body: Any) -> httpx.Response:
    return http.post("/v1/certificates", headers=staff, json=body)


def issue_disability(
    http: httpx.Client,
    staff: dict[str, str],
    holder: str,
    category: str,
    grade: str,
    request_id: str,
    **extra: str,
) -> httpx.Response:
    """A disability certificate from the district's disabled persons' federation (区残联)."""
    return issue(
        http,
        staff,
        issuer="iss_hpcl",
        type="disability_certificate",
        subject=holder,
        fields={"category": category, "grade": grade},
        request_id=request_id,
        **extra,
    )


def test_issue_check_revoke_and_the_status_list(
    http: httpx.Client, login: Login, running_suite: Suite
) -> None:
    holder = subject_of(http, login, "citizen.li")
    staff = login("staff.cl")
    with event_queue(running_suite, "certs", "cert_issued", "cert_revoked") as (channel, queue):
        body = {
            "issuer": "iss_hpcl",
            "type": "disability_certificate",
            "subject": holder,
            "fields": {"category": "视力", "grade": "一级"},
            "request_id": "cl-2026-0001",
        }
        issued = issue(http, staff, **body)
        assert issued.status_code == 201, issued.text
        certificate = issued.json()
        assert certificate["fields"]["holder_name"] == "李秀英"  # filled in from identity
        again = issue(http, staff, **body)
        assert again.json()["id"] == certificate["id"]  # idempotent per (issuer, request id)

        keys = http.get("/.well-known/cert-keys.json").json()["keys"]
        seal = next(public_key_from_jwk(k) for k in keys if k["kid"] == certificate["kid"])
        assert seal_valid(certificate["sealed"], certificate["signature"], seal)

        wallet = http.get("/v1/me/certificates", headers=login("citizen.li")).json()
        assert [c["number"] for c in wallet] == [certificate["number"]]
        # Anyone with the number learns that it is authentic, its type, issuer and validity,
        # and nothing about its holder; the check code printed on the card opens its face.
        public = http.get(f"/v1/certificates/{certificate['number']}/verify").json()
        assert public["result"] == "authentic"
        assert "face" not in public
        assert "李秀英" not in json.dumps(public, ensure_ascii=False)
        code = wallet[0]["check_code"]
        opened = http.get(
            f"/v1/certificates/{certificate['number']}/verify", params={"code": code}
        ).json()
        assert opened["face"] == {"holder_name": "李秀英", "category": "视力", "grade": "一级"}
        assert "subject" not in opened
        assert holder not in json.dumps(opened)
        wrong = http.get(
            f"/v1/certificates/{certificate['number']}/verify", params={"code": "00000000"}
        ).json()
        assert "face" not in wrong

        revoked = http.post(
            f"/v1/certificates/{certificate['id']}/revoke",
            headers=staff,
            json={"reason": "持证人申请注销"},
        )
        assert revoked.json()["status"] == "revoked"
        assert (
            http.get(f"/v1/certificates/{certificate['number']}/verify").json()["result"]
            == "revoked"
        )
        suspend = http.post(
            f"/v1/certificates/{certificate['id']}/suspend", headers=staff, json={"reason": "x"}
        )
        assert assert_problem(suspend, 409)["state"] == "revoked"

        listed = http.get("/v1/issuers/iss_hpcl/status-list").json()
        assert statuslist.verify_list(listed, seal)
        assert statuslist.bit(listed["encoded_list"], certificate["status_index"])

        # At least once: with two relays (replicas) an event may come twice, the same
        # event_id each time; read until both have come.
        events: dict[str, dict[str, Any]] = {}
        for _ in range(10):
            if {"cert_issued", "cert_revoked"} <= set(events):
                break
            event = next_event(channel, queue, 10)
            assert event is not None, f"only {sorted(events)} within 10 s"
            if event[0] in events:
                assert event[1]["event_id"] == events[event[0]]["event_id"]  # a repeat
            events[event[0]] = event[1]
    issued = events["cert_issued"]
    assert isinstance(issued.pop("request_id"), str)  # the request that issued it, for logs
    assert issued == {
        "event_id": f"cert_issued:{certificate['id']}:rev0",
        "rev": 0,
        "certificate_id": certificate["id"],
        "number": certificate["number"],
        "type": "disability_certificate",
        "issuer": "iss_hpcl",
        "subject": holder,
        "face": {"holder_name": "李秀英", "category": "视力", "grade": "一级"},
        "status": "valid",
        "version": 1,
        "valid_from": certificate["valid_from"],
        "valid_until": certificate["valid_until"],
    }
    assert events["cert_revoked"]["status"] == "revoked"
    assert events["cert_revoked"]["certificate_id"] == certificate["id"]
    assert events["cert_revoked"]["rev"] == 1  # after the issue: a consumer can order them
    assert events["cert_revoked"]["event_id"] == f"cert_revoked:{certificate['id']}:rev1"


def test_issuers_issue_only_their_types_and_only_their_staff_issue(
    http: httpx.Client, login: Login
) -> None:
    holder = subject_of(http, login, "citizen.wang")
    body = {
        "issuer": "iss_hpcl",
        "type": "disability_certificate",
        "subject": holder,
        "fields": {"category": "肢体", "grade": "三级"},
        "request_id": "x-1",
    }
    not_theirs = issue(http, login("staff.sj"), **body)
    assert_problem(not_theirs, 403)
    wrong_type = issue(
        http,
        login("staff.cl"),
        **{**body, "type": "driving_licence", "fields": {"vehicle_class": "C1"}},
    )
    assert assert_problem(wrong_type, 403)["code"] == "type_not_allowed"
    bad_grade = issue(
        http, login("staff.cl"), **{**body, "fields": {"category": "肢体", "grade": "五级"}}
    )
    assert assert_problem(bad_grade, 422)["field"] == "fields.grade"
    nobody = issue(http, login("staff.cl"), **{**body, "subject": "p_0000000000000000"})
    assert assert_problem(nobody, 404)["field"] == "subject"
    citizen = issue(http, login("citizen.wang"), **body)
    assert_problem(citizen, 403)


def test_an_unknown_number_is_not_found_publicly(http: httpx.Client) -> None:
    assert http.get("/v1/certificates/NOPE-2026-0000000/verify").json() == {
        "number": "NOPE-2026-0000000",
        "result": "not_found",
    }


def offline(token: str, keys: Path, *lists: Path) -> tuple[int, dict[str, Any]]:
    status_args = [arg for listed in lists for arg in ("--status", str(listed))]
    return run_verifier("services.certs.verify", token, "--keys", str(keys), *status_args)


def test_show_two_fields_verify_disclose_revoke(
    http: httpx.Client, login: Login, tmp_path: Path
) -> None:
    holder_login = login("citizen.xiaomei")
    holder = subject_of(http, login, "citizen.xiaomei")
    staff, hotel = login("staff.cl"), login("verifier.hotel")
    certificate = issue_disability(http, staff, holder, "听力", "三级", "cl-2026-show").json()

    shown = http.post(
        "/v1/presentations",
        headers=holder_login,
        json={"certificate_ids": [certificate["id"]], "fields": ["category", "grade"]},
    )
    assert shown.status_code == 201, shown.text
    token = shown.json()["token"]
    assert "王小梅" not in token
    assert "王小梅" not in json.dumps(jwt_claims(token))

    seen = http.post(
        "/v1/presentations/verify", headers=hotel, json={"token": token, "purpose": "hotel"}
    )
    assert seen.status_code == 200, seen.text
    assert seen.json()["certificates"][0]["fields"] == {"category": "听力", "grade": "三级"}
    assert seen.json()["certificates"][0]["issuer"]["name"] == "和平区残疾人联合会"

    disclosures = http.get("/v1/me/disclosures", headers=holder_login).json()
    assert disclosures[0]["fields"] == ["category", "grade"]
    assert disclosures[0]["verifier_name"] == "和平饭店前台"
    assert disclosures[0]["purpose"] == "hotel"
    stats = http.get("/v1/issuers/iss_hpcl/disclosure-stats", headers=staff).json()
    assert {"verifier": "和平饭店前台", "type": "disability_certificate", "count": 1} in stats[
        "by_verifier_and_type"
    ]

    keys = tmp_path / "cert-keys.json"
    keys.write_text(http.get("/.well-known/cert-keys.json").text)
    before = tmp_path / "status-before.json"
    before.write_text(http.get("/v1/issuers/iss_hpcl/status-list").text)
    status, verdict = offline(token, keys, before)
    assert status == 0
    assert verdict["certificates"][0]["fields"] == {"category": "听力", "grade": "三级"}

    http.post(
        f"/v1/certificates/{certificate['id']}/revoke", headers=staff, json={"reason": "复评不符合"}
    )
    again = http.post("/v1/presentations/verify", headers=hotel, json={"token": token})
    assert assert_problem(again, 422)["code"] == "revoked"
    fresh = http.post(
        "/v1/presentations",
        headers=holder_login,
        json={"certificate_ids": [certificate["id"]], "fields": ["grade"]},
    )
    assert assert_problem(fresh, 403)["code"] == "revoked"
    assert (
        http.get(f"/v1/certificates/{certificate['number']}/verify").json()["result"] == "revoked"
    )

    after = tmp_path / "status-after.json"
    after.write_text(http.get("/v1/issuers/iss_hpcl/status-list").text)
    status, verdict = offline(token, keys, after)
    assert status == 1
    assert verdict["certificates"][0]["status"] == "revoked_or_suspended"
    # The staleness limit: against the list fetched before the revocation it still passes,
    # and the verdict says how old that list is.
    status, verdict = offline(token, keys, before)
    assert status == 0
    assert (
        verdict["certificates"][0]["status_list_published_at"]
        == json.loads(before.read_text())["published_at"]
    )


def test_a_tampered_or_withdrawn_presentation_is_refused(http: httpx.Client, login: Login) -> None:
    holder, holder_login = fresh_citizen(http, login("staff.nh"))
    certificate = issue_disability(
        http, login("staff.cl"), holder, "肢体", "四级", "cl-2026-tamper"
    ).json()
    token = http.post(
        "/v1/presentations",
        headers=holder_login,
        json={"certificate_ids": [certificate["id"]], "fields": ["grade"], "audience": None},
    ).json()["token"]
    header, _body, signature = token.split(".")
    claims = jwt_claims(token)
    claims["items"][0]["disclosures"][0][2] = "一级"
    forged = ".".join([header, base64url(json.dumps(claims).encode()), signature])
    hotel = login("verifier.hotel")
    assert (
        assert_problem(
            http.post("/v1/presentations/verify", headers=hotel, json={"token": forged}), 422
        )["code"]
        == "forged"
    )
    withdrawn = http.post(
        "/v1/presentations",
        headers=holder_login,
        json={"certificate_ids": [certificate["id"]], "fields": ["grade"]},
    ).json()
    http.delete(f"/v1/presentations/{withdrawn['id']}", headers=holder_login)
    refused = http.post(
        "/v1/presentations/verify", headers=hotel, json={"token": withdrawn["token"]}
    )
    assert assert_problem(refused, 422)["code"] == "revoked"
    meant_for_metro = http.post(
        "/v1/presentations",
        headers=holder_login,
        json={
            "certificate_ids": [certificate["id"]],
            "fields": ["grade"],
            "audience": "acc_someone_else",
        },
    ).json()
    wrong = http.post(
        "/v1/presentations/verify", headers=hotel, json={"token": meant_for_metro["token"]}
    )
    assert assert_problem(wrong, 422)["code"] == "wrong_audience"
    not_mine = http.post(
        "/v1/presentations",
        headers=login("citizen.li"),
        json={"certificate_ids": [certificate["id"]], "fields": ["grade"]},
    )
    assert_problem(not_mine, 404)


def jwt_claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def base64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def register_enterprise(http: httpx.Client, login: Login, name: str) -> str:
    body = {"name": name, "credit_code": credit_code(), "org_path": "CN-LN-SY/HP/NH"}
    created = http.post("/v1/organisations", headers=login("staff.nh"), json=body)
    assert created.status_code == 201, created.text
    org_id: str = created.json()["id"]
    return org_id


def drug(org: str, login: Login, http: httpx.Client) -> httpx.Response:
    return issue(
        http,
        login("staff.yj"),
        issuer="iss_hpyj",
        type="drug_trading_licence",
        subject=org,
        request_id=f"yj-{org}",
        fields={"business_mode": "零售", "scope": "中成药、化学药制剂"},
    )


def food(org: str, login: Login, http: httpx.Client) -> httpx.Response:
    return issue(
        http,
        login("staff.sj"),
        issuer="iss_hpsj",
        type="food_trading_licence",
        subject=org,
        request_id=f"sj-{org}",
        fields={"main_business": "食品销售", "scope": "预包装食品"},
    )


def composites_of(http: httpx.Client, login: Login, org: str) -> list[dict[str, Any]]:
    listed = http.get(
        "/v1/certificates/by-subject", params={"subject": org}, headers=login("supervisor.hp")
    )
    assert listed.status_code == 200, listed.text
    return [c for c in listed.json() if c["type"] == "pharmacy_composite_licence"]


@pytest.mark.parametrize("order", ["drug_first", "food_first"])
def test_the_composite_licence_appears_once_and_fails_with_a_part(
    http: httpx.Client, login: Login, order: str
) -> None:
    org = register_enterprise(http, login, f"和平大药房（{order}）")
    first, second = (drug, food) if order == "drug_first" else (food, drug)
    assert first(org, login, http).status_code == 201
    assert composites_of(http, login, org) == []
    assert second(org, login, http).status_code == 201
    assert second(org, login, http).status_code == 201  # a retried request adds nothing
    composites = composites_of(http, login, org)
    assert len(composites) == 1
    number = composites[0]["number"]
    assert "parts" not in http.get(f"/v1/certificates/{number}/verify").json()
    check = http.get(
        f"/v1/certificates/{number}/verify", params={"code": composites[0]["check_code"]}
    ).json()
    assert check["result"] == "authentic"
    assert {p["type"] for p in check["parts"]} == {"drug_trading_licence", "food_trading_licence"}
    assert (
        next(p for p in check["parts"] if p["type"] == "drug_trading_licence")["face"][
            "business_mode"
        ]
        == "零售"
    )

    drug_licence = drug(org, login, http).json()
    http.post(
        f"/v1/certificates/{drug_licence['id']}/revoke",
        headers=login("staff.yj"),
        json={"reason": "停业"},
    )
    check = http.get(f"/v1/certificates/{number}/verify").json()
    assert check["result"] == "invalid"
    assert check["failed_parts"] == [
        {
            "number": drug_licence["number"],
            "type": "drug_trading_licence",
            "name": "药品经营许可证",
            "status": "revoked",
        }
    ]
    food_licence = food(org, login, http).json()
    assert (
        http.get(f"/v1/certificates/{food_licence['number']}/verify").json()["result"]
        == "authentic"
    )


def composite_in_wallet(http: httpx.Client, operator: dict[str, str]) -> dict[str, Any]:
    wallet = http.get("/v1/me/certificates", headers=operator)
    assert wallet.status_code == 200, wallet.text
    found = [c for c in wallet.json() if c["type"] == "pharmacy_composite_licence"]
    assert len(found) == 1, found
    return found[0]


def composite_bit(http: httpx.Client, composite: dict[str, Any]) -> bool:
    listed = http.get(f"/v1/issuers/{composite['issuer']}/status-list").json()
    return statuslist.bit(listed["encoded_list"], composite["status_index"])


def test_the_composite_licence_takes_its_status_from_its_parts_everywhere(
    http: httpx.Client, login: Login
) -> None:
    """Wallet, card, presentations, status list and public check all say what the parts say;
    a re-issued part restores the composite as a new version."""
    org = register_enterprise(http, login, "和平仁心大药房")
    account, operator = fresh_account(
        http, login("staff.nh"), "pharm", ["enterprise"], "CN-LN-SY/HP/NH"
    )
    linked = http.post(
        f"/v1/organisations/{org}/operators",
        headers=login("staff.nh"),
        json={"account_id": account["id"], "role": "operator"},
    )
    assert linked.status_code == 201, linked.text
    drug_licence = drug(org, login, http).json()
    food_licence = food(org, login, http).json()
    first = composite_in_wallet(http, operator)
    assert (first["status"], first.get("failed_parts", [])) == ("valid", [])

    def present() -> httpx.Response:
        body = {"certificate_ids": [first["id"]], "fields": ["holder_name"]}
        return http.post("/v1/presentations", headers=operator, json=body)

    assert present().status_code == 201
    assert not composite_bit(http, first)

    suspended = http.post(
        f"/v1/certificates/{food_licence['id']}/suspend",
        headers=login("staff.sj"),
        json={"reason": "停业整顿"},
    )
    assert suspended.status_code == 200, suspended.text
    failed_food = [
        {
            "number": food_licence["number"],
            "type": "food_trading_licence",
            "name": "食品经营许可证",
            "status": "suspended",
        }
    ]
    shown = eventually(
        lambda: (c := composite_in_wallet(http, operator))["status"] == "invalid" and c
    )
    assert shown["failed_parts"] == failed_food
    assert composite_bit(http, first)
    refused = present()
    assert assert_problem(refused, 403)["code"] == "invalid"
    check = http.get(f"/v1/certificates/{first['number']}/verify").json()
    assert (check["result"], check["failed_parts"]) == ("invalid", failed_food)
    card = http.get(f"/v1/me/certificates/{first['id']}/card.svg", headers=operator)
    assert "已失效（食品经营许可证已暂停）" in card.text

    resumed = http.post(
        f"/v1/certificates/{food_licence['id']}/resume",
        headers=login("staff.sj"),
        json={"reason": "整改完成"},
    )
    assert resumed.status_code == 200, resumed.text
    assert eventually(lambda: composite_in_wallet(http, operator)["status"] == "valid")
    assert not composite_bit(http, first)
    assert present().status_code == 201

    revoked = http.post(
        f"/v1/certificates/{drug_licence['id']}/revoke",
        headers=login("staff.yj"),
        json={"reason": "停业"},
    )
    assert revoked.status_code == 200, revoked.text
    shown = eventually(
        lambda: (c := composite_in_wallet(http, operator))["status"] == "invalid" and c
    )
    assert [(p["number"], p["status"]) for p in shown["failed_parts"]] == [
        (drug_licence["number"], "revoked")
    ]
    renewed_by_staff = http.post(  # renewing the composite does not hide the revoked part
        f"/v1/certificates/{shown['id']}/amend",
        headers=login("staff.sj"),
        json={"fields": {}, "reason": "延续", "valid_until": "2036-12-31"},
    )
    assert renewed_by_staff.status_code == 201, renewed_by_staff.text
    still = eventually(lambda: (c := composite_in_wallet(http, operator))["version"] == 2 and c)
    assert (still["status"], [p["status"] for p in still["failed_parts"]]) == (
        "invalid",
        ["revoked"],
    )
    assert composite_bit(http, still)

    again = issue(
        http,
        login("staff.yj"),
        issuer="iss_hpyj",
        type="drug_trading_licence",
        subject=org,
        request_id=f"yj-again-{org}",
        fields={"business_mode": "零售", "scope": "中成药"},
    )
    assert again.status_code == 201, again.text
    renewed = eventually(lambda: (c := composite_in_wallet(http, operator))["version"] == 3 and c)
    assert (renewed["number"], renewed["status"]) == (first["number"], "valid")
    assert sorted(renewed["fields"]["parts"]) == sorted(
        [again.json()["number"], food_licence["number"]]
    )
    assert composite_bit(http, first)  # the old version is superseded
    assert not composite_bit(http, renewed)
    check = http.get(f"/v1/certificates/{first['number']}/verify").json()
    assert (check["result"], check["version"], check["failed_parts"]) == ("authentic", 3, [])
    present_new = http.post(
        "/v1/presentations",
        headers=operator,
        json={"certificate_ids": [renewed["id"]], "fields": ["holder_name"]},
    )
    assert present_new.status_code == 201, present_new.text


def test_amend_keeps_the_chain_and_the_old_version_is_superseded(
    http: httpx.Client, login: Login
) -> None:
    holder, holder_login = fresh_citizen(http, login("staff.tyj"), "李秀兰", street="TYJ")
    staff = login("staff.cl")
    first = issue_disability(http, staff, holder, "肢体", "四级", "cl-amend-1").json()
    old_token = http.post(
        "/v1/presentations",
        headers=holder_login,
        json={"certificate_ids": [first["id"]], "fields": ["grade"]},
    ).json()["token"]
    amended = http.post(
        f"/v1/certificates/{first['id']}/amend",
        headers=staff,
        json={"fields": {"grade": "三级"}, "reason": "复评等级提高"},
    )
    assert amended.status_code == 201, amended.text
    second = amended.json()
    assert (second["number"], second["version"], second["supersedes"]) == (
        first["number"],
        2,
        first["id"],
    )
    chain = http.get(f"/v1/certificates/{second['id']}/versions", headers=staff).json()
    assert [(c["version"], c["status"], c["fields"]["grade"]) for c in chain] == [
        (1, "superseded", "四级"),
        (2, "valid", "三级"),
    ]
    code = next(
        c["check_code"]
        for c in http.get("/v1/me/certificates", headers=holder_login).json()
        if c["number"] == first["number"]
    )
    public = http.get(f"/v1/certificates/{first['number']}/verify", params={"code": code}).json()
    assert (public["result"], public["version"], public["face"]["grade"]) == (
        "authentic",
        2,
        "三级",
    )
    stale = http.post(
        "/v1/presentations/verify", headers=login("verifier.hotel"), json={"token": old_token}
    )
    assert assert_problem(stale, 422)["code"] == "superseded"
    twice = http.post(
        f"/v1/certificates/{first['id']}/amend",
        headers=staff,
        json={"fields": {"grade": "二级"}, "reason": "again"},
    )
    assert assert_problem(twice, 409)["state"] == "superseded"


def test_concurrent_status_changes_on_one_certificate_have_one_winner(
    http: httpx.Client, login: Login
) -> None:
    holder, _own = fresh_citizen(http, login("staff.nh"))
    staff = login("staff.cl")
    certificate = issue_disability(http, staff, holder, "言语", "四级", "cl-race").json()

    def act(action: str) -> int:
        response = http.post(
            f"/v1/certificates/{certificate['id']}/{action}",
            headers=staff,
            json={"reason": f"并发{action}"},
        )
        return response.status_code

    with ThreadPoolExecutor(max_workers=12) as pool:
        # The same action twelve times at once: exactly one applies. (A mix would not do:
        # a suspend that wins and a revoke that comes after it are both rightly accepted.)
        statuses = list(pool.map(act, ["revoke"] * 12))
    assert statuses.count(200) == 1
    assert statuses.count(409) == 11
    chain = http.get(f"/v1/certificates/{certificate['id']}/versions", headers=staff).json()
    assert chain[0]["status"] == "revoked"
    listed = http.get(f"/v1/certificates/{certificate['number']}/verify").json()
    assert listed["result"] == chain[0]["status"]


def test_disability_certificate_from_application_to_wallet(
    http: httpx.Client, login: Login
) -> None:
    elder = login("citizen.li")  # 李秀英, 太原街; her neighbour 王小梅 applies for her
    elder_id = subject_of(http, login, "citizen.li")
    until = "2030-01-01T00:00:00Z"
    grant_proxy(
        http,
        elder,
        login("citizen.xiaomei"),
        "210102198508081045",
        "王小梅",
        ["apply", "show_certificates"],
        until,
    )
    applied = http.post(
        "/v1/applications",
        headers={**login("citizen.xiaomei"), "X-On-Behalf-Of": elder_id},
        json={"note": "右眼视力下降多年"},
    )
    assert applied.status_code == 201, applied.text
    application = applied.json()
    assert application["applicant"] == elder_id
    assert application["status"] == "submitted"

    outsider = http.post(
        f"/v1/applications/{application['id']}/review",
        headers=login("staff.nh"),
        json={"approve": True},
    )
    assert_problem(outsider, 404)  # 南湖 staff do not review 太原街's residents
    reviewed = http.post(
        f"/v1/applications/{application['id']}/review",
        headers=login("staff.tyj"),
        json={"approve": True},
    )
    assert reviewed.json()["status"] == "reviewed"
    # The assessment is the doctor's, signed in as the department's assessor: the clerks of
    # the department cannot put a doctor's name to it, nor can a name be typed in.
    assessment = {"issuer": "iss_hpcl", "category": "视力", "grade": "二级"}
    path = f"/v1/applications/{application['id']}/assessment"
    by_clerk = http.post(path, headers=login("staff.cl"), json=assessment)
    assert_problem(by_clerk, 403)
    typed = http.post(path, headers=login("doctor.hp"), json={**assessment, "assessor": "冒名医生"})
    assert_problem(typed, 422)
    assert "assessor" in typed.text
    queue = http.get("/v1/applications?status=reviewed", headers=login("doctor.hp"))
    assert application["id"] in [a["id"] for a in queue.json()]
    assessed = http.post(path, headers=login("doctor.hp"), json=assessment)
    assert assessed.json()["status"] == "assessed", assessed.text
    signed = assessed.json()["steps"][-1]
    assert signed["by_name"] == "和平区人民医院 张医生"
    assert signed["by"]
    issued = http.post(f"/v1/applications/{application['id']}/issue", headers=login("staff.cl"))
    again = http.post(f"/v1/applications/{application['id']}/issue", headers=login("staff.cl"))
    assert issued.json()["status"] == again.json()["status"] == "issued"
    assert issued.json()["certificate_id"] == again.json()["certificate_id"]

    mine = http.get("/v1/me/applications", headers=elder).json()[0]
    assert [s["step"] for s in mine["steps"]] == ["submitted", "reviewed", "assessed", "issued"]
    assert all(s["by"] and s["at"] for s in mine["steps"])
    assert mine["steps"][0]["proxy"] == subject_of(http, login, "citizen.xiaomei")
    assert mine["system_ms"] < 1000  # the system's own share of the whole flow
    wallet = http.get("/v1/me/certificates", headers=elder).json()
    certificate = next(c for c in wallet if c["id"] == mine["certificate_id"])
    assert certificate["fields"]["grade"] == "二级"
    assert certificate["fields"]["assessor"] == "和平区人民医院 张医生"

    # What the neighbour did in her name is in her activity, with both names; the neighbour
    # follows it among her own.
    helper = login("citizen.xiaomei")
    shown = http.post(
        "/v1/presentations",
        headers={**helper, "X-On-Behalf-Of": elder_id},
        json={"certificate_ids": [certificate["id"]], "fields": ["grade", "请访问某网址领取补贴"]},
    )
    assert shown.status_code == 201, shown.text

    def acts(headers: dict[str, str]) -> dict[str, dict[str, Any]]:
        seen = http.get("/v1/me/activity", headers=headers).json()
        return {a["action"]: a for a in seen if a["action"] in ("apply", "present")}

    done = eventually(lambda: len(acts(elder)) == 2 and acts(elder))
    assert {a["by"]["name"] for a in done.values()} == {"王小梅"}
    assert done["present"]["detail"]["fields"] == ["grade"]
    assert done["apply"]["detail"]["ref"] == application["id"]
    followed = acts(helper)
    assert {a["for"]["name"] for a in followed.values()} == {"李秀英"}


def test_an_expired_certificate_is_announced_once(
    http: httpx.Client, login: Login, running_suite: Suite
) -> None:
    with event_queue(running_suite, "certs", "cert_expired") as (channel, queue):
        holder = subject_of(http, login, "citizen.wang")
        old = issue(
            http,
            login("staff.cl"),
            issuer="iss_hpcl",
            type="disability_certificate",
            subject=holder,
            fields={"category": "肢体", "grade": "四级"},
            request_id="cl-expired",
            valid_from="2015-01-01",
            valid_until="2025-01-01",
        ).json()
        assert old["status"] == "expired"
        event = next_event(channel, queue, 15)
        assert event is not None, "no cert_expired within 15 s"
        assert event[1]["certificate_id"] == old["id"]
        # The sweep runs every second in this suite: three more seconds, no second announcement
        # (the same event again from a second relay is at-least-once delivery, not another).
        again = next_event(channel, queue, 3)
        assert again is None or again[1]["event_id"] == event[1]["event_id"]
    public = http.get(f"/v1/certificates/{old['number']}/verify").json()
    assert public["result"] == "expired"


def test_wallet_cards_and_certificates_held_as_a_proxy(http: httpx.Client, login: Login) -> None:
    holder, wang = fresh_citizen(http, login("staff.nh"), "王建军")
    certificate = issue_disability(
        http, login("staff.cl"), holder, "肢体", "二级", "cl-card"
    ).json()
    for kind, media, magic in [
        ("png", "image/png", b"\x89PNG"),
        ("pdf", "application/pdf", b"%PDF"),
        ("svg", "image/svg+xml", b"<svg"),
    ]:
        card = http.get(f"/v1/me/certificates/{certificate['id']}/card.{kind}", headers=wang)
        assert card.status_code == 200, card.text
        assert card.headers["content-type"] == media
        assert card.content.startswith(magic)
    svg_text = http.get(f"/v1/me/certificates/{certificate['id']}/card.svg", headers=wang).text
    assert "残疾人证" in svg_text
    assert "等级：二级" in svg_text
    assert "电子印章" in svg_text
    stranger = http.get(
        f"/v1/me/certificates/{certificate['id']}/card.png", headers=login("citizen.li")
    )
    assert_problem(stranger, 404)

    # 王建国 lets his neighbour 王小梅 show his certificates (代办): they are in her wallet.
    helper = login("citizen.xiaomei")
    assert certificate["id"] not in [
        c["id"] for c in http.get("/v1/me/certificates", headers=helper).json()
    ]
    grant_proxy(http, wang, helper, "210102198508081045", "王小梅", ["show_certificates"])
    assert certificate["id"] in [
        c["id"] for c in http.get("/v1/me/certificates", headers=helper).json()
    ]
    shown = http.post(
        "/v1/presentations",
        headers=helper,
        json={"certificate_ids": [certificate["id"]], "fields": ["grade"]},
    )
    assert shown.status_code == 201


def test_a_person_holds_one_disability_certificate(http: httpx.Client, login: Login) -> None:
    """Issuing a second while one is valid is refused (amend the one held); once it is
    revoked, a new one may be issued; a certificate of the past may be entered for the
    record. Policy's facts follow the one held."""
    holder, _own = fresh_citizen(http, login("staff.nh"), "周凤英")
    staff = login("staff.cl")
    first = issue_disability(http, staff, holder, "肢体", "三级", f"once-{holder}-1")
    assert first.status_code == 201, first.text
    second = issue_disability(http, staff, holder, "视力", "二级", f"once-{holder}-2")
    assert assert_problem(second, 409)["code"] == "already_held"
    past = issue(
        http,
        staff,
        issuer="iss_hpcl",
        type="disability_certificate",
        subject=holder,
        fields={"category": "肢体", "grade": "四级"},
        request_id=f"once-{holder}-old",
        valid_from="2010-01-01",
        valid_until="2020-01-01",
    )
    assert past.status_code == 201, past.text  # for the record: it holds nothing
    revoked = http.post(
        f"/v1/certificates/{first.json()['id']}/revoke", headers=staff, json={"reason": "换发"}
    )
    assert revoked.status_code == 200, revoked.text
    again = issue_disability(http, staff, holder, "视力", "二级", f"once-{holder}-2")
    assert again.status_code == 201, again.text  # the same request id, free after the 409
    street = login("staff.nh")

    def facts() -> dict[str, Any]:
        found: dict[str, Any] = http.get(f"/v1/subjects/{holder}/facts", headers=street).json()
        return found

    def learnt() -> bool:
        known = facts()
        return known.get("disability_grade", {}).get("value") == "二级"

    assert eventually(learnt), facts()  # events cross the broker
    assert facts()["cert_disability_certificate"]["value"] == "valid"


def test_a_date_field_must_be_a_day_of_the_calendar(http: httpx.Client, login: Login) -> None:
    holder, _own = fresh_citizen(http, login("staff.nh"))
    refused = issue(
        http,
        login("staff.cl"),
        issuer="iss_hpcl",
        type="disability_certificate",
        subject=holder,
        fields={"category": "肢体", "grade": "三级", "assessed_on": "2026-13-45"},
        request_id=f"date-{holder}",
    )
    assert assert_problem(refused, 422)["field"] == "fields.assessed_on"


def test_a_certificate_is_not_valid_before_its_first_day(http: httpx.Client, login: Login) -> None:
    """Issued ahead of its start (a licence from next month), it is 'not yet valid' in the
    wallet, at the public check, and cannot be shown."""
    holder, me = fresh_citizen(http, login("staff.nh"), "钱未来")
    starts = (date.today() + timedelta(days=10)).isoformat()
    issued = issue_disability(
        http,
        login("staff.cl"),
        holder,
        "肢体",
        "三级",
        f"cl-later-{holder}",
        valid_from=starts,
        valid_until="2031-12-31",
    )
    assert issued.status_code == 201, issued.text
    certificate = issued.json()
    assert certificate["status"] == "not_yet_valid"
    wallet = {c["id"]: c for c in http.get("/v1/me/certificates", headers=me).json()}
    assert wallet[certificate["id"]]["status"] == "not_yet_valid"
    public = http.get(f"/v1/certificates/{certificate['number']}/verify").json()
    assert public["result"] == "not_yet_valid"
    shown = http.post(
        "/v1/presentations",
        headers=me,
        json={"certificate_ids": [certificate["id"]], "fields": ["grade"]},
    )
    assert assert_problem(shown, 403)["code"] == "not_yet_valid"


def test_an_expired_certificate_is_renewed_as_a_new_version(
    http: httpx.Client, login: Login
) -> None:
    holder, me = fresh_citizen(http, login("staff.nh"), "孙续期")
    staff = login("staff.cl")
    old = issue_disability(
        http,
        staff,
        holder,
        "视力",
        "二级",
        f"cl-renew-{holder}",
        valid_from="2015-01-01",
        valid_until="2025-01-01",
    ).json()
    assert old["status"] == "expired"
    backwards = http.post(
        f"/v1/certificates/{old['id']}/amend",
        headers=staff,
        json={"reason": "续期", "valid_until": "2014-12-31"},
    )
    assert assert_problem(backwards, 422)["field"] == "valid_until"
    renewed = http.post(
        f"/v1/certificates/{old['id']}/amend",
        headers=staff,
        json={"reason": "续期", "valid_until": "2030-12-31"},
    )
    assert renewed.status_code == 201, renewed.text
    assert renewed.json()["version"] == 2
    # Renewed, it is the one held: a second certificate is refused, and renewing an old one
    # entered for the record while this one is valid is refused too.
    record = issue_disability(
        http,
        staff,
        holder,
        "视力",
        "三级",
        f"cl-record-{holder}",
        valid_from="2005-01-01",
        valid_until="2010-01-01",
    ).json()
    again = http.post(
        f"/v1/certificates/{record['id']}/amend",
        headers=staff,
        json={"reason": "续期", "valid_until": "2031-12-31"},
    )
    assert assert_problem(again, 409)["code"] == "already_held"
    assert renewed.json()["status"] == "valid"
    assert renewed.json()["valid_until"] == "2030-12-31"
    assert renewed.json()["fields"]["grade"] == "二级"
    public = http.get(f"/v1/certificates/{old['number']}/verify").json()
    assert public["result"] == "authentic"
    wallet = [c for c in http.get("/v1/me/certificates", headers=me).json()]
    assert [c["version"] for c in wallet if c["number"] == old["number"]] == [2]


def test_issuing_at_once_to_one_person_gives_one_certificate(
    http: httpx.Client, login: Login
) -> None:
    """Eight clerks' requests at the same moment for one person: one certificate, seven 409."""
    holder, _me = fresh_citizen(http, login("staff.nh"), "郑同时")
    staff = login("staff.cl")
    base = str(http.base_url)

    def one(i: int) -> int:
        with httpx.Client(base_url=base, timeout=30) as client:
            answer = issue_disability(client, staff, holder, "肢体", "二级", f"race-{holder}-{i}")
            return answer.status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = sorted(pool.map(one, range(8)))
    assert codes == [201] + [409] * 7, codes
    held = http.get("/v1/certificates/by-subject", headers=staff, params={"subject": holder})
    assert [c["status"] for c in held.json()] == ["valid"]


def test_a_clerk_files_for_a_resident_and_the_queue_shows_the_area_its_applications(
    http: httpx.Client, login: Login
) -> None:
    """后台录入 and the work queue (Hulan's staff side): a clerk of the resident's street files
    at the counter; the queue of that street, and of the issuing department, lists it by
    state; another street neither files for the resident nor sees the application."""
    resident, resident_login = fresh_citizen(http, login("staff.nh"), "郑桂兰", street="NH")
    filed = http.post(
        f"/v1/persons/{resident}/applications",
        headers=login("staff.nh"),
        json={"note": "老人行动不便，窗口代为录入"},
    )
    assert filed.status_code == 201, filed.text
    application = filed.json()
    assert (application["applicant"], application["status"]) == (resident, "submitted")
    assert application["filed_by"] is not None
    elsewhere = http.post(
        f"/v1/persons/{resident}/applications", headers=login("staff.tyj"), json={}
    )
    assert_problem(elsewhere, 404)

    def queue(who: str, status: str | None = None) -> list[dict[str, Any]]:
        answer = http.get(
            "/v1/applications", headers=login(who), params={"status": status} if status else {}
        )
        assert answer.status_code == 200, answer.text
        found: list[dict[str, Any]] = answer.json()
        return found

    mine = next(a for a in queue("staff.nh", "submitted") if a["id"] == application["id"])
    assert mine["applicant_name"] == "郑桂兰"
    assert application["id"] in [a["id"] for a in queue("staff.cl")]  # the issuing department
    assert application["id"] not in [a["id"] for a in queue("staff.tyj")]
    assert application["id"] not in [a["id"] for a in queue("staff.nh", "reviewed")]
    assert_problem(http.get("/v1/applications", headers=resident_login), 403)
    own = http.get("/v1/me/applications", headers=resident_login).json()
    assert [a["id"] for a in own] == [application["id"]]  # the resident follows it
