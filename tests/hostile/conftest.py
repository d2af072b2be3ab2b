"""The hostile-input suite: its own instance of the suite (vhost ``oct-hostile``, databases
``hostile_*``, port 19500) with the demo city and one of each thing a path can name, so a
generator that freezes codes, rotates keys or rewrites the calendar never disturbs another
test."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, Suite, started_suite
from tests.e2e.conftest import DEMO_PASSWORD, load_demo, token_for
from tests.e2e.test_certs import issue_disability
from tests.hostile.fuzz import Caller
from tests.unit.policy.test_rules import ASSISTIVE_DEVICES

# One account per role the gateway knows, and no account at all.
ROLES = {
    "anonymous": None,
    "citizen": "citizen.wang",
    "enterprise": "ent.xinghe",
    "staff": "staff.nh",
    "supervisor": "supervisor.hp",
    "verifier": "verifier.metro",
    "admin": ADMIN_USER,
    "partner": "hotline-12345",
}


@pytest.fixture(scope="session")
def hostile_suite() -> Iterator[Suite]:
    yield from started_suite("hostile", 19500)


@pytest.fixture(scope="session")
def city(hostile_suite: Suite) -> dict[str, Any]:
    return load_demo(hostile_suite)


def bearer(http: httpx.Client, role: str, city: dict[str, Any]) -> dict[str, str]:
    """The Authorization header of ``role``'s account (none for anonymous)."""
    headers = signed_in(http, role, city)
    assert headers is not None, f"{role} cannot sign in"
    return headers


def signed_in(http: httpx.Client, role: str, city: dict[str, Any]) -> dict[str, str] | None:
    """``role``'s Authorization header, or None when it cannot sign in."""
    name = ROLES[role]
    if name is None:
        return {}
    if role == "partner":
        form = client_form(name, city)
    else:
        password = ADMIN_PASSWORD if name == ADMIN_USER else DEMO_PASSWORD
        form = {"grant_type": "password", "username": name, "password": password}
    answer = http.post("/v1/auth/token", data=form)
    if answer.status_code != 200:
        return None
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def client_form(name: str, city: dict[str, Any]) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_id": name,
        "client_secret": city["partners"][name],
    }


def caller(http: httpx.Client, role: str, city: dict[str, Any]) -> Caller:
    """``role`` as the fuzzer's caller: when a generated request has ended its session, it
    signs in again, and when one has disabled its account or client (or reset its
    password), the administrator restores it first. The administrator cannot disable or
    reset its own account, so it can always restore the others."""
    name = ROLES[role]
    if name is None:
        return Caller({})
    if name == ADMIN_USER:
        return Caller(bearer(http, role, city), lambda: bearer(http, role, city))
    account = None if role == "partner" else http.get("/v1/me", headers=bearer(http, role, city))

    def restore() -> None:
        if account is None:
            _as_admin(http, city, "POST", f"/v1/partner-clients/{name}/enable")
            return
        path = f"/v1/accounts/{account.json()['id']}"
        _as_admin(http, city, "POST", f"{path}/enable")
        _as_admin(http, city, "POST", f"{path}/password", json={"new": DEMO_PASSWORD})

    def sign_in() -> dict[str, str]:
        headers = signed_in(http, role, city)
        if headers is None:  # the account or client was disabled, or its password reset
            restore()
            headers = bearer(http, role, city)
        return headers

    return Caller(bearer(http, role, city), sign_in)


def _as_admin(http: httpx.Client, city: dict[str, Any], method: str, path: str, **kw: Any) -> None:
    answer = http.request(method, path, headers=bearer(http, "admin", city), **kw)
    assert answer.status_code == 200, answer.text


def _ids(response: httpx.Response, key: str = "id") -> list[str]:
    assert response.status_code in (200, 201), response.text
    body = response.json()
    items = body["items"] if isinstance(body, dict) and "items" in body else body
    items = items if isinstance(items, list) else [items]
    return [str(item[key]) for item in items if key in item]


@pytest.fixture(scope="session")
def known(hostile_suite: Suite, city: dict[str, Any]) -> dict[str, list[str]]:
    """Identifiers that exist, by the path parameter that names them."""
    with httpx.Client(base_url=hostile_suite.base_url, timeout=30) as http:
        admin, staff = bearer(http, "admin", city), bearer(http, "staff", city)
        citizen, enterprise = bearer(http, "citizen", city), bearer(http, "enterprise", city)
        department = bearer_of(http, "staff.cl")  # 区残联: issues certificates, authors policies
        holder = http.get("/v1/me", headers=citizen).json()["subject_id"]
        certificate = issue_disability(http, department, holder, "肢体", "三级", "hostile-0001")
        if certificate.status_code == 409:  # the attacks gave the citizen theirs (one is held)
            certificate = http.get("/v1/me/certificates", headers=citizen)
            held = [
                c
                for c in certificate.json()
                if c["status"] == "valid" and c["type"] == "disability_certificate"
            ]
            certificate = httpx.Response(200, json=held[:1], request=certificate.request)
        policy = http.post(
            "/v1/policies", headers=department, json=copy.deepcopy(ASSISTIVE_DEVICES)
        )
        task = http.post(
            "/v1/tasks", headers=staff, json={"title": "井盖破损", "category": "市政设施"}
        )
        shown = http.post(
            "/v1/presentations",
            headers=citizen,
            json={"certificate_ids": _ids(certificate), "fields": ["grade"]},
        )
        persons = [
            http.get("/v1/me", headers=bearer_of(http, name)).json()["subject_id"]
            for name in ("citizen.wang", "citizen.li", "citizen.xiaomei")
        ]
        organisations = _ids(http.get("/v1/me/organisations", headers=enterprise))
        return {
            "person_id": persons,
            "account_id": _ids(http.get("/v1/accounts", headers=admin)),
            "organisation_id": organisations,
            "subject": persons + organisations,
            "issuer_id": _ids(http.get("/v1/issuers", headers=admin)),
            "certificate_id": _ids(certificate),
            "number": _ids(certificate, "number"),
            "presentation_id": _ids(shown),
            "policy_id": _ids(policy),
            "task_id": _ids(task),
            "rule_id": _ids(http.get("/v1/routing-rules", headers=admin))
            + _ids(http.get("/v1/escalation-rules", headers=admin)),
            "unit": ["CN-LN-SY/HP/NH", "CN-LN-SY/HP"],
            "path": ["CN-LN-SY/HP/NH", "CN-LN-SY"],
            "year": ["2026"],
            "service": ["identity", "certs", "policy", "tasks"],
        }


def bearer_of(http: httpx.Client, username: str, password: str = DEMO_PASSWORD) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(http, username, password)}"}
