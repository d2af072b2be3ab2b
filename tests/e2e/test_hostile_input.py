"""Hostile input is refused or treated as data, never as a query or a crash."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.conftest import ADMIN_USER
from tests.e2e.test_foundation import assert_problem
from tests.idnumbers import resident_id

Login = Callable[[str], dict[str, str]]


@pytest.mark.parametrize(
    "value", [{"$ne": None}, {"$gt": ""}, ["210102196605041011"], {"$regex": ".*"}]
)
def test_operators_in_json_fields_are_refused_naming_the_field(
    http: httpx.Client, login: Login, value: object
) -> None:
    body = {"name": "注入", "id_number": value, "org_path": "CN-LN-SY/HP/NH"}
    refused = assert_problem(http.post("/v1/persons", headers=login("staff.nh"), json=body), 422)
    assert refused["field"] == "id_number"


def test_operators_in_query_and_path_parameters_are_only_data(
    http: httpx.Client, login: Login
) -> None:
    staff = login("staff.nh")
    listed = http.get("/v1/accounts", params={"org_path": '{"$ne": null}'}, headers=staff)
    assert_problem(listed, 404)  # an org unit named like that does not exist, nothing more
    missing = http.get("/v1/accounts/%7B%22%24ne%22%3A%20null%7D", headers=staff)
    assert_problem(missing, 404)
    public = http.get("/v1/certificates/%7B%22%24gt%22%3A%22%22%7D/verify")
    assert public.json()["result"] == "not_found"


def test_control_and_invisible_characters_in_names_are_refused(
    http: httpx.Client, login: Login
) -> None:
    for name in ("王\u0000芳", "王\u200b芳", "王\u0085芳", "王\u202e芳", "王\u2028芳"):
        body = {"name": name, "id_number": "210102196605041011", "org_path": "CN-LN-SY/HP/NH"}
        refused = http.post("/v1/persons", headers=login("staff.nh"), json=body)
        assert assert_problem(refused, 422)["field"] == "name"


def test_look_alike_names_are_refused_or_kept_in_one_spelling(
    http: httpx.Client, login: Login
) -> None:
    staff = login("staff.nh")
    place = {"org_path": "CN-LN-SY/HP/NH"}
    # A Cyrillic а among Latin letters reads as "Wang" on a counter's screen.
    mixed = {"name": "Wаng Li", "id_number": resident_id("19800101"), **place}
    assert assert_problem(http.post("/v1/persons", headers=staff, json=mixed), 422)["field"] == (
        "name"
    )
    # Full-width letters and a compatibility ideograph are stored as everyone else writes them.
    typed = {"name": "ＷＡＮＧ \uf9e8芳", "id_number": resident_id("19800102"), **place}
    created = http.post("/v1/persons", headers=staff, json=typed)
    assert created.status_code == 201, created.text
    assert created.json()["name"] == "WANG 裡芳"
    organisation = {
        "name": "星河\u202e司公限有",  # a right-to-left override would show 有限公司 reversed
        "credit_code": "91210102MA0XXXXX1X",
        **place,
    }
    refused = http.post("/v1/organisations", headers=staff, json=organisation)
    assert assert_problem(refused, 422)["field"] == "name"


def test_an_oversized_body_is_refused_before_it_is_read(http: httpx.Client, login: Login) -> None:
    huge = b'{"name": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    response = http.post(
        "/v1/persons",
        headers={**login("staff.nh"), "Content-Type": "application/json"},
        content=huge,
    )
    assert assert_problem(response, 413)["title"] == "Request too large"

    def stream() -> Iterator[bytes]:
        for _ in range(40):
            yield b"x" * 65536

    streamed = http.post(
        "/v1/persons",
        headers={**login("staff.nh"), "Content-Type": "application/json"},
        content=stream(),
    )
    assert_problem(streamed, 413)


def attachment(size: int) -> dict[str, str]:
    content = b"%PDF-1.7\n" + b"0" * (size - 9)
    return {
        "name": "现场照片.pdf",
        "content_type": "application/pdf",
        "content": base64.b64encode(content).decode(),
    }


def test_oversized_and_too_many_attachments_are_refused_naming_them(
    http: httpx.Client, login: Login
) -> None:
    staff = login("staff.nh")
    task = {"title": "井盖破损", "category": "市政设施"}
    too_big = http.post(
        "/v1/tasks", headers=staff, json={**task, "attachments": [attachment(512 * 1024 + 1)]}
    )
    assert assert_problem(too_big, 422)["field"] == "attachments[0].content"
    too_many = http.post(
        "/v1/tasks", headers=staff, json={**task, "attachments": [attachment(1024)] * 6}
    )
    assert assert_problem(too_many, 422)["field"] == "attachments"
    # Five files at the size limit are what a street office may send in one go: accepted.
    full = http.post(
        "/v1/tasks", headers=staff, json={**task, "attachments": [attachment(512 * 1024)] * 5}
    )
    assert full.status_code == 201, full.text[:300]
    assert len(full.json()["attachments"]) == 5
    # Past what five such files could be, the body is refused before it is read.
    huge = http.post(
        "/v1/tasks",
        headers={**staff, "Content-Type": "application/json"},
        content=b"{" + b" " * (5 * 1024 * 1024) + b"}",
    )
    assert assert_problem(huge, 413)["title"] == "Request too large"


def test_a_calendar_nobody_could_keep_is_refused_not_a_crash(
    http: httpx.Client, login: Login
) -> None:
    # Both were 500s until schemathesis sent them.
    admin = login(ADMIN_USER)
    assert_problem(http.get("/v1/calendar/12230657153338920960", headers=admin), 422)
    three = {"hours": [["09:00", "12:00", "13:00"]]}
    assert_problem(http.put("/v1/calendar/2073", headers=admin, json=three), 422)
