"""Hostile input is refused or treated as data, never as a query or a crash."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.e2e.test_foundation import assert_problem

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
    for name in ("王\u0000芳", "王\u200b芳", "王\u0085芳"):
        body = {"name": name, "id_number": "210102196605041011", "org_path": "CN-LN-SY/HP/NH"}
        refused = http.post("/v1/persons", headers=login("staff.nh"), json=body)
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
