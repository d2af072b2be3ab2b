"""Identity end to end: registration, dynamic codes online and offline, scans, freezing,
printed codes, enterprise codes, proxies and guardians, jurisdiction."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest.mock import ANY

import httpx
import jwt
import pytest

from services.gateway import qr
from tests.e2e.conftest import token_for
from tests.e2e.support import eventually, fresh_account, fresh_citizen, grant_proxy, run_verifier
from tests.e2e.test_certs import issue_disability
from tests.e2e.test_foundation import assert_problem
from tests.idnumbers import credit_code, resident_id

Login = Callable[[str], dict[str, str]]
NH = "CN-LN-SY/HP/NH"
TYJ = "CN-LN-SY/HP/TYJ"


def offline_verify(
    token: str, jwks_file: Path, at: float | None = None
) -> tuple[int, dict[str, Any]]:
    moment = [] if at is None else ["--at", str(at)]
    return run_verifier("services.identity.verify", token, "--jwks", str(jwks_file), *moment)


def register(
    http: httpx.Client, staff: dict[str, str], username: str | None, **fields: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "测试居民",
        "id_number": resident_id(),
        "org_path": NH,
        **fields,
    }
    if username:
        body["account"] = {"username": username, "password": "Citizen-pass-1"}
    response = http.post("/v1/persons", headers=staff, json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def bearer(http: httpx.Client, username: str, password: str = "Citizen-pass-1") -> dict[str, str]:
    token = http.post(
        "/v1/auth/token",
        data={"grant_type": "password", "username": username, "password": password},
    )
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def test_code_life_from_registration_to_freeze(
    http: httpx.Client, login: Login, tmp_path: Path
) -> None:
    number = resident_id("19620815", sex="female")
    person = register(
        http, login("staff.nh"), "zhao.shufen", name="赵淑芬", id_number=number, phone="13900001111"
    )
    assert person["id_number_masked"] == number[:4] + "*" * 10 + number[-4:]
    assert person["birth_date"] == "1962-08-15"
    assert person["sex"] == "female"
    me = bearer(http, "zhao.shufen")

    code = http.post("/v1/me/code", headers=me)
    assert code.status_code == 200
    assert code.headers["cache-control"] == "no-store"
    token = code.json()["token"]
    assert person["id"] in json.dumps(code.json())
    assert number not in token

    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(http.get("/.well-known/jwks.json").text)
    status, verdict = offline_verify(token, jwks_file)
    assert status == 0
    assert verdict["claims"]["sub"] == person["id"]
    middle = len(token) // 2
    tampered = token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1 :]
    assert offline_verify(tampered, jwks_file) == (1, {"valid": False, "reason": "forged"})

    hotel = login("verifier.hotel")
    scanned = http.post("/v1/codes/verify", headers=hotel, json={"token": token, "scene": "hotel"})
    assert scanned.status_code == 200, scanned.text
    assert scanned.json()["fields"] == {
        "name": "赵淑芬",
        "id_number_masked": person["id_number_masked"],
    }
    assert number not in scanned.text
    assert "13900001111" not in scanned.text
    again = http.post("/v1/codes/verify", headers=hotel, json={"token": token, "scene": "hotel"})
    assert assert_problem(again, 409)["code"] == "replayed"

    expires = (
        time.mktime(time.strptime(code.json()["expires_at"][:19], "%Y-%m-%dT%H:%M:%S"))
        - time.timezone
    )
    # Offline, a terminal's clock may be off by the skew (30 s) either way: a code is taken
    # until then, expired after, and "clock" when issued ahead of the terminal's time.
    assert offline_verify(token, jwks_file, at=expires + 25)[0] == 0
    assert offline_verify(token, jwks_file, at=expires + 31) == (
        1,
        {"valid": False, "reason": "expired"},
    )
    issued = jwt.decode(token, options={"verify_signature": False})["iat"]
    assert offline_verify(token, jwks_file, at=issued - 60) == (
        1,
        {"valid": False, "reason": "clock"},
    )
    time.sleep(max(0.0, expires - time.time() + 1.5))  # the code's own, known lifetime
    late = http.post("/v1/codes/verify", headers=hotel, json={"token": token, "scene": "hotel"})
    assert assert_problem(late, 422)["code"] == "expired"

    scans = http.get("/v1/me/scans", headers=me).json()["items"]
    assert [s["result"] for s in scans] == ["expired", "replayed", "ok"]
    assert {s["scene"] for s in scans} == {"hotel"}
    assert scans[0]["verifier"]["name"] == "和平饭店前台"

    unused = http.post("/v1/me/code", headers=me).json()["token"]
    assert http.post("/v1/me/code/freeze", headers=me).json()["status"] == "frozen"
    mine = assert_problem(http.post("/v1/me/code", headers=me), 403)
    assert (mine["code"], mine["frozen"]["by"]) == ("frozen", "self")
    refused = http.post("/v1/codes/verify", headers=hotel, json={"token": unused, "scene": "hotel"})
    assert assert_problem(refused, 403)["code"] == "frozen"
    assert (
        http.post("/v1/me/code/unfreeze", headers=bearer(http, "zhao.shufen")).json()["status"]
        == "active"
    )
    assert http.post("/v1/me/code", headers=me).status_code == 200


def test_scenes_see_only_their_fields_and_terminals_only_their_scenes(
    http: httpx.Client, login: Login
) -> None:
    me = login("citizen.wang")  # demo: 王建国, born 1966-05-04: 60 now, the elderly concession
    metro = login("verifier.metro")
    token = http.post("/v1/me/code", headers=me).json()["token"]
    seen = http.post("/v1/codes/verify", headers=metro, json={"token": token, "scene": "metro"})
    assert seen.json()["fields"] == {"valid": True, "concession": "elderly"}
    token = http.post("/v1/me/code", headers=me).json()["token"]
    other_scene = http.post(
        "/v1/codes/verify", headers=metro, json={"token": token, "scene": "hospital"}
    )
    assert assert_problem(other_scene, 403)["code"] == "scene_not_allowed"
    unknown = http.post("/v1/codes/verify", headers=metro, json={"token": token, "scene": "casino"})
    body = assert_problem(unknown, 422)
    assert body["field"] == "scene"
    assert body["code"] == "unknown_scene"
    citizen_scanning = http.post(
        "/v1/codes/verify", headers=me, json={"token": token, "scene": "metro"}
    )
    assert_problem(citizen_scanning, 403)
    forged = http.post("/v1/codes/verify", headers=metro, json={"token": "x.y.z", "scene": "metro"})
    assert assert_problem(forged, 422)["code"] == "forged"


def test_offline_scans_upload_once(http: httpx.Client, login: Login) -> None:
    me = login("citizen.xiaomei")
    tokens = [http.post("/v1/me/code", headers=me).json()["token"] for _ in range(2)]
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    entries = [{"token": t, "scene": "metro", "scanned_at": now} for t in tokens]
    entries.append({"token": "garbage", "scene": "metro", "scanned_at": now})
    upload = {"terminal_id": "gate-07", "entries": entries}
    first = http.post("/v1/codes/scan-logs", headers=login("verifier.metro"), json=upload).json()
    second = http.post("/v1/codes/scan-logs", headers=login("verifier.metro"), json=upload).json()
    assert (first["accepted"], first["duplicates"], len(first["rejected"])) == (2, 0, 1)
    assert (second["accepted"], second["duplicates"]) == (0, 2)
    offline = [
        s for s in http.get("/v1/me/scans", headers=me).json()["items"] if s["source"] == "offline"
    ]
    assert len(offline) == 2


def card_offline(http: httpx.Client, token: str, folder: Path) -> tuple[int, dict[str, Any]]:
    """An offline terminal's check of a printed card with the JWKS and the cards' status
    list it fetched while online."""
    jwks, listed = folder / "jwks.json", folder / "cards.jwt"
    jwks.write_text(http.get("/.well-known/jwks.json").text)
    answer = http.get("/v1/codes/printed/status-list")
    assert answer.headers["content-type"] == "application/statuslist+jwt"
    listed.write_text(answer.text)
    return run_verifier(
        "services.identity.verify", token, "--jwks", str(jwks), "--status", str(listed)
    )


def test_printed_code_for_someone_without_a_smartphone(
    http: httpx.Client, login: Login, tmp_path: Path
) -> None:
    staff = login("staff.nh")
    person = register(
        http, staff, None, name="孙大爷", id_number=resident_id("19400101", sex="male")
    )
    first = http.post(f"/v1/persons/{person['id']}/printed-code", headers=staff)
    assert first.status_code == 201
    issued = first.json()
    assert issued["offline"] is True
    assert "补办" in issued["if_lost"]  # the card says what to do if it is lost
    assert issued["expires_at"] > issued["issued_at"]
    assert person["id"] not in issued["code"]  # the card does not carry who it is
    card = http.get(f"/v1/persons/{person['id']}/printed-code/card.png", headers=staff)
    assert card.headers["content-type"] == "image/png"
    assert qr.read(card.content) == issued["code"]  # what the card prints is the code
    hotel = login("verifier.hotel")
    for _ in range(2):  # a printed card is shown again and again
        ok = http.post(
            "/v1/codes/verify",
            headers=hotel,
            json={"token": issued["code"], "scene": "hotel"},
        )
        assert ok.status_code == 200
        assert ok.json()["fields"]["name"] == "孙大爷"
        assert ok.json()["printed"] is True
    assert card_offline(http, issued["code"], tmp_path)[0] == 0

    # A bus offline scans the card twice; the uploads are both kept, neither a second use.
    scanned = [
        {"token": issued["code"], "scene": "bus", "scanned_at": issued["issued_at"]},
        {"token": issued["code"], "scene": "bus", "scanned_at": datetime.now(UTC).isoformat()},
    ]
    uploaded = http.post(
        "/v1/codes/scan-logs",
        headers=login("verifier.metro"),
        json={"terminal_id": "bus-card-" + secrets.token_hex(3), "entries": scanned},
    ).json()
    assert (uploaded["accepted"], uploaded["second_uses"], uploaded["rejected"]) == (2, 0, [])

    second = http.post(f"/v1/persons/{person['id']}/printed-code", headers=staff).json()
    old = http.post(
        "/v1/codes/verify", headers=hotel, json={"token": issued["code"], "scene": "hotel"}
    )
    assert assert_problem(old, 422)["code"] == "revoked"
    assert card_offline(http, issued["code"], tmp_path) == (
        1,
        {"valid": False, "printed": True, "subject_type": "person", "reason": "revoked"}
        | {"list_issued_at": ANY},
    )
    # A bus still holding the list of before the new card let the old one through: the
    # upload keeps the scan and says the card had been replaced.
    late = http.post(
        "/v1/codes/scan-logs",
        headers=login("verifier.metro"),
        json={
            "terminal_id": "bus-late-" + secrets.token_hex(3),
            "entries": [
                {"token": issued["code"], "scene": "bus", "scanned_at": second["issued_at"]}
            ],
        },
    ).json()
    assert (late["accepted"], late["replaced_cards"], late["rejected"]) == (1, 1, [])
    new = http.post(
        "/v1/codes/verify", headers=hotel, json={"token": second["code"], "scene": "hotel"}
    )
    assert new.status_code == 200
    http.post(
        f"/v1/persons/{person['id']}/freeze", headers=staff, json={"reason": "卡片遗失待核实"}
    )
    frozen = http.post(
        "/v1/codes/verify", headers=hotel, json={"token": second["code"], "scene": "hotel"}
    )
    told = assert_problem(frozen, 403)
    assert told["code"] == "frozen"
    assert "卡片遗失待核实" not in frozen.text  # the terminal learns no reason
    assert card_offline(http, second["code"], tmp_path)[1]["reason"] == "suspended"
    assert http.post(f"/v1/persons/{person['id']}/unfreeze", headers=staff).status_code == 200
    assert card_offline(http, second["code"], tmp_path)[0] == 0

    # A leaked card key is withdrawn: the cards it signed stop online and offline, the card
    # printed next is signed by the key after it.
    withdrawn = http.post(
        "/v1/admin/card-keys/rotate", headers=login("admin"), json={"compromised": True}
    )
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["signing_kid"].startswith("card-")
    leaked = http.post(
        "/v1/codes/verify", headers=hotel, json={"token": second["code"], "scene": "hotel"}
    )
    assert assert_problem(leaked, 422)["code"] == "forged"
    assert card_offline(http, second["code"], tmp_path)[1]["reason"] == "forged"
    third = http.post(f"/v1/persons/{person['id']}/printed-code", headers=staff).json()
    assert card_offline(http, third["code"], tmp_path)[0] == 0


def test_enterprise_code_shown_by_its_operator(http: httpx.Client, login: Login) -> None:
    operator = login("ent.xinghe")
    orgs = http.get("/v1/me/organisations", headers=operator).json()
    assert [o["name"] for o in orgs] == ["沈阳星河科技有限公司"]
    org_id = orgs[0]["id"]
    code = http.post(f"/v1/organisations/{org_id}/code", headers=operator)
    assert code.status_code == 200
    seen = http.post(
        "/v1/codes/verify",
        headers=login("verifier.hotel"),
        json={"token": code.json()["token"], "scene": "hotel"},
    )
    assert seen.json()["subject_type"] == "organisation"
    assert seen.json()["fields"] == {
        "valid": True,
        "name": "沈阳星河科技有限公司",
        "credit_code_masked": "9121**********026U",
    }
    stranger = http.post(f"/v1/organisations/{org_id}/code", headers=login("citizen.wang"))
    assert_problem(stranger, 404)
    image = http.get(f"/v1/organisations/{org_id}/code.png", headers=operator)
    assert image.headers["content-type"] == "image/png"
    assert_problem(
        http.get(f"/v1/organisations/{org_id}/code.png", headers=login("citizen.wang")), 404
    )


def test_a_proxy_shows_the_code_and_both_identities_are_recorded(
    http: httpx.Client, login: Login
) -> None:
    elder, helper = login("citizen.li"), login("citizen.xiaomei")
    elder_id = http.get("/v1/me", headers=elder).json()["subject_id"]
    until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 86400))
    # A number that does not go with the name: answered exactly as a right one (no name, no
    # id comes back before the person asked accepts), and it never authorizes anyone.
    wrong_name = http.post(
        "/v1/me/proxies",
        headers=elder,
        json={
            "proxy_id_number": "210102198508081045",
            "proxy_name": "王大梅",
            "scopes": ["show_code"],
            "valid_until": until,
        },
    )
    assert wrong_name.status_code == 201, wrong_name.text
    assert wrong_name.json()["status"] == "pending"
    assert wrong_name.json()["proxy"] == {"id": None, "name": "王大梅"}
    assert wrong_name.json()["id"] not in [
        d["id"] for d in http.get("/v1/me/proxies", headers=helper).json()["i_act_for"]
    ]
    asked = http.post(
        "/v1/me/proxies",
        headers=elder,
        json={
            "proxy_id_number": "210102198508081045",
            "proxy_name": "王小梅",
            "scopes": ["show_code"],
            "valid_until": until,
        },
    )
    assert asked.status_code == 201, asked.text
    assert asked.json().keys() == wrong_name.json().keys()
    early = http.post("/v1/me/code", headers={**helper, "X-On-Behalf-Of": elder_id})
    assert assert_problem(early, 403)["code"] == "not_delegated"  # not accepted yet
    self_accept = http.post(f"/v1/me/proxies/{asked.json()['id']}/accept", headers=elder)
    assert_problem(self_accept, 403)  # the person asked accepts, not the one asking
    granted = http.post(f"/v1/me/proxies/{asked.json()['id']}/accept", headers=helper)
    assert granted.status_code == 200, granted.text
    acting = http.get("/v1/me/proxies", headers=helper).json()["i_act_for"]
    mine = next(d for d in acting if d["id"] == granted.json()["id"])
    assert mine["principal"]["name"] == "李秀英"
    assert mine["scopes"] == ["show_code"]

    code = http.post("/v1/me/code", headers={**helper, "X-On-Behalf-Of": elder_id})
    assert code.status_code == 200
    assert code.json()["subject_id"] == elder_id
    seen = http.post(
        "/v1/codes/verify",
        headers=login("verifier.hotel"),
        json={"token": code.json()["token"], "scene": "hotel"},
    )
    assert seen.json()["fields"]["name"] == "李秀英"
    activity = http.get("/v1/me/activity", headers=elder).json()
    assert activity[0]["action"] == "show_code"
    assert activity[0]["by"]["name"] == "王小梅"

    # Nothing is ever done to the proxy instead of the principal: an operation nobody does
    # for another is 403 (a scope not given: above, and in the access matrix).
    for method, path in (
        ("POST", "/v1/me/code/freeze"),  # nobody freezes someone else's code
        ("GET", "/v1/me/sessions"),
        ("GET", "/v1/me"),
    ):
        acted = http.request(method, path, headers={**helper, "X-On-Behalf-Of": elder_id})
        assert assert_problem(acted, 403)["code"] == "not_delegated", path
    assert http.post("/v1/me/code", headers=helper).status_code == 200  # the proxy's own: live

    not_granted = http.post(
        "/v1/me/code", headers={**login("citizen.wang"), "X-On-Behalf-Of": elder_id}
    )
    assert assert_problem(not_granted, 403)["code"] == "not_delegated"
    http.delete(f"/v1/me/proxies/{granted.json()['id']}", headers=elder)
    revoked = http.post("/v1/me/code", headers={**helper, "X-On-Behalf-Of": elder_id})
    assert assert_problem(revoked, 403)["code"] == "not_delegated"


def test_staff_appoint_a_guardian_for_a_minor(http: httpx.Client, login: Login) -> None:
    staff = login("staff.nh")
    child = register(
        http, staff, None, name="王小宝", id_number=resident_id("20150601", sex="male")
    )
    guardian_id = http.get("/v1/me", headers=login("citizen.xiaomei")).json()["subject_id"]
    appointed = http.post(
        f"/v1/persons/{child['id']}/guardians",
        headers=staff,
        json={"guardian_id": guardian_id, "reason": "未成年人，母亲为监护人"},
    )
    assert appointed.status_code == 201
    assert appointed.json()["kind"] == "guardian"
    code = http.post(
        "/v1/me/code", headers={**login("citizen.xiaomei"), "X-On-Behalf-Of": child["id"]}
    )
    assert code.status_code == 200
    assert code.json()["subject_id"] == child["id"]
    twice = http.post(
        f"/v1/persons/{child['id']}/guardians",
        headers=staff,
        json={"guardian_id": guardian_id, "reason": "再次指定"},
    )
    assert assert_problem(twice, 409)["code"] == "already_guardian"
    forever = http.post(
        f"/v1/persons/{child['id']}/guardians",
        headers=staff,
        json={
            "guardian_id": guardian_id,
            "reason": "x",
            "valid_until": "9999-12-31T23:59:59-10:00",
        },
    )
    assert assert_problem(forever, 422)["field"] == "valid_until"
    # Born 2015-06-01: of age at midnight in Beijing on 2033-06-01, when the guardianship ends.
    assert appointed.json()["valid_until"] == "2033-05-31T16:00:00.000Z"
    ended = f"/v1/persons/{child['id']}/guardians/{appointed.json()['id']}"
    assert_problem(http.delete(ended, headers=login("staff.tyj")), 404)  # another street
    assert_problem(http.delete(ended.replace(child["id"], guardian_id), headers=staff), 404)
    done = http.delete(ended, headers=staff)
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "revoked"
    after = http.post(
        "/v1/me/code", headers={**login("citizen.xiaomei"), "X-On-Behalf-Of": child["id"]}
    )
    assert assert_problem(after, 403)["code"] == "not_delegated"


@pytest.mark.parametrize(
    ("field", "value", "detail"),
    [
        ("id_number", "210102196605041012", "checksum"),
        ("id_number", "210102196613411011", "not a date"),
        ("id_number", "21010219660504101", "18 characters"),
        ("phone", "1380000", "mobile"),
        ("birth_date", "1966-05-05", "does not match"),
    ],
)
def test_invalid_person_data_is_refused_naming_the_field(
    http: httpx.Client, login: Login, field: str, value: str, detail: str
) -> None:
    body = {"name": "测试", "id_number": "210102196605041011", "org_path": NH, field: value}
    refused = assert_problem(http.post("/v1/persons", headers=login("staff.nh"), json=body), 422)
    assert refused["field"] == field
    assert detail in refused["detail"]


def test_invalid_credit_codes_are_refused(http: httpx.Client, login: Login) -> None:
    good = credit_code()
    for bad in (good[:-1], good[:-1] + ("0" if good[-1] != "0" else "1"), "O" + good[1:]):
        body = {"name": "某公司", "credit_code": bad, "org_path": NH}
        refused = http.post("/v1/organisations", headers=login("staff.nh"), json=body)
        assert assert_problem(refused, 422)["field"] == "credit_code"


def test_a_failed_registration_leaves_nothing_behind(http: httpx.Client, login: Login) -> None:
    number = resident_id()
    taken = {"username": "staff.nh", "password": "whatever-123"}
    refused = http.post(
        "/v1/persons",
        headers=login("staff.nh"),
        json={"name": "重名", "id_number": number, "org_path": NH, "account": taken},
    )
    assert assert_problem(refused, 409)["field"] == "account.username"
    retry = http.post(
        "/v1/persons",
        headers=login("staff.nh"),
        json={"name": "重名", "id_number": number, "org_path": NH},
    )
    assert retry.status_code == 201  # the number was not half-registered
    duplicate = http.post(
        "/v1/persons",
        headers=login("staff.nh"),
        json={"name": "重名", "id_number": number, "org_path": NH},
    )
    assert assert_problem(duplicate, 409)["field"] == "id_number"


def test_staff_cannot_act_in_another_jurisdiction(http: httpx.Client, login: Login) -> None:
    nh, tyj = login("staff.nh"), login("staff.tyj")
    person = register(http, nh, None, name="南湖居民")
    elsewhere = http.post(
        "/v1/persons",
        headers=tyj,
        json={"name": "越界", "id_number": resident_id(), "org_path": NH},
    )
    assert_problem(elsewhere, 404)
    for method, path, body in [
        ("GET", f"/v1/persons/{person['id']}", None),
        ("POST", f"/v1/persons/{person['id']}/freeze", {"reason": "越界操作"}),
        ("POST", f"/v1/persons/{person['id']}/printed-code", None),
        (
            "POST",
            f"/v1/persons/{person['id']}/guardians",
            {"guardian_id": person["id"], "reason": "x"},
        ),
    ]:
        response = http.request(method, path, headers=tyj, json=body)
        assert_problem(response, 404)
    assert http.get(f"/v1/persons/{person['id']}", headers=nh).status_code == 200
    assert (
        http.get(f"/v1/persons/{person['id']}", headers=login("supervisor.hp")).status_code == 200
    )


def test_a_retried_registration_with_an_idempotency_key_registers_once(
    http: httpx.Client, login: Login
) -> None:
    staff = {**login("staff.nh"), "Idempotency-Key": "reg-7f3a9c"}
    body = {"name": "重试居民", "id_number": resident_id(), "org_path": NH}
    first = http.post("/v1/persons", headers=staff, json=body)
    again = http.post("/v1/persons", headers=staff, json=body)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    other = http.post("/v1/persons", headers=staff, json={**body, "name": "另一个人"})
    assert assert_problem(other, 422)["field"] == "Idempotency-Key"
    # Without the key the same body is a second attempt, refused as a duplicate.
    plain = http.post("/v1/persons", headers=login("staff.nh"), json=body)
    assert assert_problem(plain, 409)["field"] == "id_number"
    # Keys belong to their caller: another staff member's same key is a new request.
    tyj = {**login("staff.tyj"), "Idempotency-Key": "reg-7f3a9c"}
    theirs = http.post(
        "/v1/persons", headers=tyj, json={**body, "id_number": resident_id(), "org_path": TYJ}
    )
    assert theirs.status_code == 201


def test_code_images_are_fresh_qr_codes(http: httpx.Client, login: Login) -> None:
    me = login("citizen.xiaomei")
    image = http.get("/v1/me/code.png", headers=me)
    assert image.headers["content-type"] == "image/png"
    assert image.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert image.headers["cache-control"] == "no-store"
    assert image.headers["x-code-expires-at"].endswith("Z")
    vector = http.get("/v1/me/code.svg", headers=me)
    assert vector.headers["content-type"] == "image/svg+xml"
    assert b"<svg" in vector.content


def test_a_person_frozen_by_staff_is_told_why_and_where_and_shows_nothing(
    http: httpx.Client, login: Login
) -> None:
    staff = login("staff.nh")
    person = register(http, staff, "qian.guilan", name="钱桂兰", id_number=resident_id("19470302"))
    me = bearer(http, "qian.guilan")
    issued = issue_disability(http, login("staff.cl"), person["id"], "肢体", "三级", "frz-0001")
    assert issued.status_code == 201, issued.text
    certificate = issued.json()["id"]
    body = {"certificate_ids": [certificate], "fields": ["grade"]}
    earlier = http.post("/v1/presentations", headers=me, json=body)
    assert earlier.status_code == 201, earlier.text

    frozen = http.post(
        f"/v1/persons/{person['id']}/freeze", headers=staff, json={"reason": "身份核实中"}
    )
    assert frozen.status_code == 200, frozen.text
    told = assert_problem(http.post("/v1/me/code", headers=me), 403)
    assert (told["frozen"]["by"], told["frozen"]["reason"]) == ("staff", "身份核实中")
    assert told["frozen"]["office"]  # the unit that froze it: where to go
    refused = assert_problem(http.post("/v1/presentations", headers=me, json=body), 403)
    assert (refused["code"], refused["frozen"]["reason"]) == ("frozen", "身份核实中")
    hotel = login("verifier.hotel")
    shown = http.post(
        "/v1/presentations/verify", headers=hotel, json={"token": earlier.json()["token"]}
    )
    assert assert_problem(shown, 422)["code"] == "frozen"  # made before, refused now
    assert "身份核实中" not in shown.text
    assert "三级" not in shown.text
    # The person cannot undo a staff freeze themself; the office can.
    assert http.post("/v1/me/code/unfreeze", headers=me).status_code == 200
    assert assert_problem(http.post("/v1/me/code", headers=me), 403)["frozen"]["by"] == "staff"
    assert http.post(f"/v1/persons/{person['id']}/unfreeze", headers=staff).status_code == 200
    assert http.post("/v1/me/code", headers=me).status_code == 200
    assert http.post("/v1/presentations", headers=me, json=body).status_code == 201


def test_a_verifier_is_always_named_to_the_person_it_scanned(
    http: httpx.Client, login: Login
) -> None:
    """A terminal created without a display name is named after its unit and login, and the
    person reads that name among the scans of their code."""
    made, gate = fresh_account(http, login("staff.nh"), "gate", ["verifier"], NH, scenes=["hotel"])
    assert made["display_name"] == f"南湖街道·{made['username']}"
    _person, me = fresh_citizen(http, login("staff.nh"))
    token = http.post("/v1/me/code", headers=me).json()["token"]
    scanned = http.post("/v1/codes/verify", headers=gate, json={"token": token, "scene": "hotel"})
    assert scanned.status_code == 200, scanned.text
    seen = http.get("/v1/me/scans", headers=me).json()
    items = seen["items"] if isinstance(seen, dict) else seen
    assert [s["verifier"]["name"] for s in items] == [f"南湖街道·{made['username']}"]


def test_a_proxy_renewed_after_the_first_expired_counts(http: httpx.Client, login: Login) -> None:
    """An elder's proxy ran out; a new one to the same helper works at once, and the newest
    one in force is what counts."""
    clerk = login("staff.nh")
    elder_id, elder = fresh_citizen(http, clerk, "周老伯")
    helper_number = resident_id("19880808")
    helper_login = f"helper.{secrets.token_hex(3)}"
    helper_made = http.post(
        "/v1/persons",
        headers=clerk,
        json={
            "name": "周小燕",
            "id_number": helper_number,
            "org_path": NH,
            "account": {"username": helper_login, "password": "Helper-2026!"},
        },
    )
    assert helper_made.status_code == 201, helper_made.text
    helper = {"Authorization": f"Bearer {token_for(http, helper_login, 'Helper-2026!')}"}
    soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 5))
    grant_proxy(http, elder, helper, helper_number, "周小燕", ["show_code"], soon)
    acting = {**helper, "X-On-Behalf-Of": elder_id}
    assert http.post("/v1/me/code", headers=acting).status_code == 200

    def lapsed() -> bool:
        return http.post("/v1/me/code", headers=acting).status_code == 403

    assert eventually(lapsed, timeout=15)
    grant_proxy(http, elder, helper, helper_number, "周小燕", ["show_code"])
    renewed = http.post("/v1/me/code", headers=acting)
    assert renewed.status_code == 200, renewed.text
    assert renewed.json()["subject_id"] == elder_id
