"""The gateway's own defences, tried as a browser, an attacker and a careless client would:
security headers and a CSP without inline script, a login form that another site cannot
post, a body that trickles in, metrics for the operators only, an idempotency store that
keeps no secret, and three inputs that once answered 500."""

from __future__ import annotations

import json
import re
import secrets
import socket
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import Suite
from tests.e2e.conftest import DEMO_PASSWORD
from tests.e2e.test_foundation import assert_problem

Login = Callable[[str], dict[str, str]]
PAGES = ("/login", "/verify", "/citizen/code", "/tasks", "/account")


def test_every_answer_carries_the_security_headers(http: httpx.Client) -> None:
    for path in ("/login", "/v1/issuers", "/openapi.json", "/docs", "/v1/me"):
        answer = http.get(path)
        policy = answer.headers["content-security-policy"]
        script = re.search(r"script-src ([^;]*)", policy)
        assert script is not None, path
        assert "'unsafe-inline'" not in script.group(1), path
        assert "frame-ancestors 'none'" in policy, path
        assert answer.headers["x-content-type-options"] == "nosniff", path
        assert answer.headers["referrer-policy"] == "no-referrer", path
        assert answer.headers["x-frame-options"] == "DENY", path


def test_no_page_has_inline_script(running_suite: Suite, login: Login) -> None:
    """Scripts come from files only, and no element carries an event handler."""
    users = {"/citizen/code": "citizen.wang", "/tasks": "supervisor.hp", "/account": "staff.nh"}
    for path in PAGES:
        with httpx.Client(base_url=running_suite.base_url, follow_redirects=True) as browser:
            if path in users:
                token = login(users[path])["Authorization"].split()[1]
                browser.cookies.set("occ_session", token)
            html = browser.get(path).text
            for tag in re.findall(r"<script\b[^>]*>", html):
                assert "src=" in tag, f"{path}: inline script {tag}"
            assert not re.search(r"\son[a-z]+\s*=", html), f"{path}: an inline event handler"
            assert "javascript:" not in html, path


def test_the_login_form_cannot_be_posted_from_another_site(running_suite: Suite) -> None:
    form = {"username": "citizen.wang", "password": "Demo-pass-2026", "next": "/"}
    with httpx.Client(base_url=running_suite.base_url) as elsewhere:
        forged = elsewhere.post("/login", data=form)
        assert forged.status_code == 400
        assert "occ_session" not in forged.cookies
        assert "登录页已过期" in forged.text
    with httpx.Client(base_url=running_suite.base_url) as browser:
        page = browser.get("/login")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert token is not None
        logged_in = browser.post("/login", data={**form, "csrf": token.group(1)})
        assert logged_in.status_code == 303
        assert "occ_session" in logged_in.cookies
        assert urlsplit(logged_in.headers["location"]).path == "/"


def test_a_body_that_trickles_in_is_cut_off(running_suite: Suite) -> None:
    """The suite allows 2 s for a body (BODY_TIMEOUT_SECONDS): a client that sends a tenth
    of it and then waits is answered 408, and the place it held is free again."""
    port = urlsplit(running_suite.base_url).port
    with socket.create_connection(("127.0.0.1", port or 80), timeout=30) as raw:
        raw.sendall(
            b"POST /v1/auth/token HTTP/1.1\r\nHost: localhost\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n"
            b"grant_type"
        )
        answer = raw.recv(4096).decode("latin-1")
    assert answer.startswith("HTTP/1.1 408"), answer[:200]
    assert "application/problem+json" in answer


def test_metrics_are_for_the_scraper_only(http: httpx.Client, running_suite: Suite) -> None:
    assert_problem(http.get("/metrics"), 404)
    assert_problem(http.get("/metrics", headers={"Authorization": "Bearer guess"}), 404)
    token = running_suite.env["METRICS_TOKEN"]
    scraped = http.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert scraped.status_code == 200
    assert "gateway_requests_total" in scraped.text


def test_a_secret_shown_once_is_never_kept_for_a_retry(http: httpx.Client, login: Login) -> None:
    admin = {**login("admin"), "Idempotency-Key": f"partner-{secrets.token_hex(4)}"}
    body = {"client_id": f"once-{secrets.token_hex(3)}", "name": "一次性", "scopes": []}
    first = http.post("/v1/partner-clients", headers=admin, json=body)
    assert first.status_code == 201, first.text
    assert first.headers["cache-control"] == "no-store"
    secret = first.json()["client_secret"]
    again = http.post("/v1/partner-clients", headers=admin, json=body)
    refused = assert_problem(again, 409)
    assert refused["code"] == "answer_withheld"
    assert secret not in again.text


@pytest.mark.parametrize(
    ("who", "path"),
    [
        ("citizen.wang", "/v1/me/code"),
        ("ent.xinghe", "/v1/organisations/{organisation}/code"),
    ],
)
def test_a_code_is_never_kept_for_a_retry(
    http: httpx.Client, login: Login, who: str, path: str
) -> None:
    headers = login(who)
    organisation = http.get("/v1/me/organisations", headers=headers).json()
    url = path.format(organisation=organisation[0]["id"] if organisation else "")
    keyed = {**headers, "Idempotency-Key": f"code-{secrets.token_hex(4)}"}
    first = http.post(url, headers=keyed)
    assert first.status_code == 200, first.text
    assert first.headers["cache-control"] == "no-store"
    again = http.post(url, headers=keyed)
    assert assert_problem(again, 409)["code"] == "answer_withheld"
    assert first.json()["token"] not in again.text


def test_a_stored_answer_is_not_given_to_an_ended_session(http: httpx.Client, login: Login) -> None:
    staff = login("staff.nh")
    token = http.post(
        "/v1/auth/token",
        data={"grant_type": "password", "username": "staff.nh", "password": DEMO_PASSWORD},
    ).json()["access_token"]
    keyed = {"Authorization": f"Bearer {token}", "Idempotency-Key": f"t-{secrets.token_hex(4)}"}
    body = {"title": "路灯不亮", "category": "市政设施"}
    first = http.post("/v1/tasks", headers=keyed, json=body)
    assert first.status_code == 201, first.text
    mine = {"Authorization": keyed["Authorization"]}
    assert http.post("/v1/auth/logout", headers=mine).status_code in (200, 204)
    again = http.post("/v1/tasks", headers=keyed, json=body)
    assert_problem(again, 401)  # the session ended: no stored answer for it
    assert first.json()["id"] not in again.text
    assert http.get("/v1/me", headers=staff).status_code == 200  # another session goes on


def test_a_condition_nested_hundreds_deep_is_refused_naming_it(
    http: httpx.Client, login: Login
) -> None:
    check = {"fact": "age", "op": ">=", "value": 60, "label": "年满60周岁"}
    node: dict[str, object] = check
    for _ in range(300):
        node = {"not": node}
    policy = {
        "code": f"deep-{secrets.token_hex(3)}",
        "title": "嵌套很深的政策",
        "department": "区民政局",
        "category": "养老",
        "subject_type": "person",
        "conditions": node,
    }
    refused = http.post("/v1/policies", headers=login("staff.cl"), json=policy)
    assert assert_problem(refused, 422)["field"].startswith("conditions.not")
    deeper = "[" * 5000 + "]" * 5000
    raw = http.post(
        "/v1/policies",
        headers={**login("staff.cl"), "Content-Type": "application/json"},
        content=deeper,
    )
    assert 400 <= raw.status_code < 500, raw.text


def test_numbers_no_fact_can_hold_are_refused_naming_the_fact(
    http: httpx.Client, login: Login
) -> None:
    street = login("staff.nh")
    person = http.get("/v1/me", headers=login("citizen.wang")).json()["subject_id"]
    for value in ("NaN", "Infinity", "1e400", str(10**30)):
        raw = '{"facts": {"monthly_income": ' + value + "}}"
        refused = http.put(
            f"/v1/subjects/{person}/facts",
            headers={**street, "Content-Type": "application/json"},
            content=raw,
        )
        assert assert_problem(refused, 422)["field"] == "facts.monthly_income", value


def test_a_signature_header_in_any_script_is_refused_not_a_500(http: httpx.Client) -> None:
    body = json.dumps({"payout_id": "x", "payment_id": "y", "status": "paid", "amount": 1})
    for signature in (
        "t=1,v1=签名".encode(),
        f"t={int(time.time())},v1=\xe9\xe9".encode("latin-1"),
    ):
        refused = http.post(
            "/v1/payment-callbacks",
            content=body,
            headers={"Content-Type": "application/json", "X-Signature": signature},
        )
        assert assert_problem(refused, 401)["field"] == "X-Signature"
