"""The foundation, driven over HTTP as a partner or a browser would."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pymongo
import pytest
from cryptography.hazmat.primitives import serialization

from services.common.crypto import derive_key, generate_signing_key
from services.gateway.keys import RING_ID, KeyRing, ring_from_document
from tests.conftest import ADMIN_USER, MONGO_URL, ROOT, Suite

Login = Callable[[str], dict[str, str]]
SERVICES = ("identity", "certs", "policy", "tasks")
PROBLEM = "application/problem+json"


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert {"type", "title", "detail", "request_id"} <= body.keys()
    assert body["request_id"] == response.headers["x-request-id"]
    return body


def test_readyz_reports_broker_database_and_every_service(http: httpx.Client) -> None:
    response = http.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {
        "broker": "ok",
        "database": "ok",
        "identity": "ok",
        "certs": "ok",
        "policy": "ok",
        "tasks": "ok",
    }


def test_staff_logs_in_reads_me_and_reaches_every_service(http: httpx.Client, login: Login) -> None:
    me = http.get("/v1/me", headers=login("staff.nh"))
    assert me.status_code == 200
    assert me.json()["username"] == "staff.nh"
    assert me.json()["org_path"] == "CN-LN-SY/HP/NH"
    assert me.json()["roles"] == ["staff"]
    assert "password_hash" not in me.json()
    for service in SERVICES:
        health = http.get(f"/v1/services/{service}/health", headers=login("staff.nh"))
        assert health.status_code == 200, health.text
        assert health.json() == {"service": service, "status": "ok", "database": "ok"}


def test_a_citizen_is_refused_on_staff_routes(http: httpx.Client, login: Login) -> None:
    assert http.get("/v1/me", headers=login("citizen.wang")).status_code == 200
    assert_problem(http.get("/v1/accounts", headers=login("citizen.wang")), 403)
    assert_problem(http.get("/v1/services/identity/health", headers=login("citizen.wang")), 403)


@pytest.fixture(scope="module")
def gateway_ring(running_suite: Suite) -> KeyRing:
    """The test instance's real signing keys, to make a correctly signed but expired token."""
    secrets_file = ROOT / "var" / "secrets.env"
    secret = dict(line.split("=", 1) for line in secrets_file.read_text().split())["SECRET_KEY"]
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(MONGO_URL)
    try:
        document = client["e2e_gateway"].signing_keys.find_one({"_id": RING_ID})
    finally:
        client.close()
    assert document is not None
    return ring_from_document(document, derive_key(secret, "gateway-token-keys"))


def forge_hs256_with_public_key(claims: dict[str, Any], ring: KeyRing) -> str:
    public_pem = ring.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "typ": "JWT", "kid": ring.current_kid}
    signing_input = b".".join(
        jwt.utils.base64url_encode(json.dumps(part).encode()) for part in (header, claims)
    )
    signature = hmac.new(public_pem, signing_input, hashlib.sha256).digest()
    return (signing_input + b"." + jwt.utils.base64url_encode(signature)).decode()


@pytest.mark.parametrize(
    "kind",
    [
        "alg-none",
        "hs256",
        "expired",
        "future-iat",
        "unknown-kid",
        "wrong-audience",
        "wrong-issuer",
        "missing",
    ],
)
def test_bad_tokens_are_refused_with_401(
    http: httpx.Client, login: Login, gateway_ring: KeyRing, kind: str
) -> None:
    staff_token = login("staff.nh")["Authorization"].split()[1]
    claims = {**jwt.decode(staff_token, options={"verify_signature": False}), "roles": ["admin"]}
    now = int(time.time())
    stranger = generate_signing_key()

    def ours(payload: dict[str, Any]) -> str:
        return jwt.encode(
            payload,
            gateway_ring.private_key,
            algorithm="EdDSA",
            headers={"kid": gateway_ring.current_kid},
        )

    tokens = {
        "alg-none": jwt.encode(claims, None, algorithm="none"),
        "hs256": forge_hs256_with_public_key(claims, gateway_ring),
        "expired": ours({**claims, "iat": now - 7200, "exp": now - 3600}),
        "unknown-kid": jwt.encode(claims, stranger, algorithm="EdDSA", headers={"kid": "nope"}),
        # Each of these is signed with our own current key: only the claim is wrong.
        "future-iat": ours({**claims, "iat": now + 3600, "exp": now + 4500}),
        "wrong-audience": ours({**claims, "aud": "another-city"}),
        "wrong-issuer": ours({**claims, "iss": "someone-else"}),
        "missing": None,
    }
    # The same claims, correctly signed and current, are accepted: the refusals are the
    # signature, algorithm, key and expiry, nothing else.
    good = ours(claims)
    assert http.get("/v1/me", headers={"Authorization": f"Bearer {good}"}).status_code == 200
    token = tokens[kind]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = assert_problem(http.get("/v1/me", headers=headers), 401)
    assert body["title"] == "Not authenticated"


def test_staff_cannot_read_an_account_of_another_street(http: httpx.Client, login: Login) -> None:
    admin = login(ADMIN_USER)
    accounts = http.get("/v1/accounts", params={"limit": 200}, headers=admin).json()["items"]
    by_name = {a["username"]: a for a in accounts}
    mine, theirs = by_name["citizen.wang"], by_name["citizen.li"]  # 南湖 and 太原街
    staff = login("staff.nh")
    assert http.get(f"/v1/accounts/{mine['id']}", headers=staff).status_code == 200
    hidden = assert_problem(http.get(f"/v1/accounts/{theirs['id']}", headers=staff), 404)
    absent = assert_problem(http.get("/v1/accounts/acc_0000000000000000", headers=staff), 404)
    # No leak of existence: the two answers differ only in their request ids.
    assert {k: v for k, v in hidden.items() if k != "request_id"} == {
        k: v for k, v in absent.items() if k != "request_id"
    }
    listed = http.get("/v1/accounts", params={"limit": 200}, headers=staff).json()["items"]
    assert "citizen.li" not in {a["username"] for a in listed}
    assert "citizen.wang" in {a["username"] for a in listed}


def test_domain_errors_arrive_as_status_and_problem_body(http: httpx.Client, login: Login) -> None:
    admin = login(ADMIN_USER)
    duplicate = http.post(
        "/v1/org-units",
        headers=admin,
        json={"code": "NH", "name": "南湖", "kind": "street", "parent": "CN-LN-SY/HP"},
    )
    body = assert_problem(duplicate, 409)
    assert body["field"] == "code"
    assert body["type"].endswith("/conflict")
    misplaced = http.post(
        "/v1/org-units",
        headers=admin,
        json={"code": "Q", "name": "错层", "kind": "city", "parent": "CN-LN-SY/HP"},
    )
    assert assert_problem(misplaced, 422)["field"] == "kind"
    bad_role = http.post(
        "/v1/accounts",
        headers=login("staff.nh"),
        json={
            "username": "new.staff",
            "password": "long-enough-1",
            "roles": ["admin"],
            "org_path": "CN-LN-SY/HP/NH",
        },
    )
    assert_problem(bad_role, 403)
    short_password = http.post(
        "/v1/accounts",
        headers=login("staff.nh"),
        json={
            "username": "new.citizen",
            "password": "short",
            "roles": ["citizen"],
            "org_path": "CN-LN-SY/HP/NH",
        },
    )
    assert assert_problem(short_password, 422)["field"] == "password"


def test_repeated_wrong_passwords_lock_with_429_and_retry_after(
    http: httpx.Client, login: Login
) -> None:
    http.post(
        "/v1/accounts",
        headers=login("staff.nh"),
        json={
            "username": "lockout.probe",
            "password": "the-right-one",
            "roles": ["enterprise"],
            "org_path": "CN-LN-SY/HP/NH",
        },
    )
    form = {"grant_type": "password", "username": "lockout.probe", "password": "wrong-one!"}
    for _ in range(5):
        assert_problem(http.post("/v1/auth/token", data=form), 401)
    locked = http.post("/v1/auth/token", data={**form, "password": "the-right-one"})
    assert_problem(locked, 429)
    assert 800 < int(locked.headers["retry-after"]) <= 901


def test_a_partner_gets_a_token_with_client_credentials(
    http: httpx.Client, demo: dict[str, Any]
) -> None:
    secret = demo["partners"]["hotline-12345"]
    response = http.post(
        "/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "hotline-12345",
            "client_secret": secret,
        },
    )
    assert response.status_code == 200
    headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
    me = http.get("/v1/me", headers=headers).json()
    assert me == {
        "kind": "partner",
        "client_id": "hotline-12345",
        "name": "12345 政务服务便民热线",
        "roles": ["partner"],
        "scopes": ["tasks:read", "tasks:write"],
        "org_path": "CN-LN-SY/HP",
    }
    assert_problem(http.get("/v1/accounts", headers=headers), 403)
    wrong = http.post(
        "/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "hotline-12345",
            "client_secret": secret + "x",
        },
    )
    assert_problem(wrong, 401)


def test_validation_errors_name_the_field(http: httpx.Client) -> None:
    missing = http.post("/v1/auth/token", data={"grant_type": "password", "username": "x"})
    assert assert_problem(missing, 422)["field"] == "password"
    unknown_grant = http.post("/v1/auth/token", data={"grant_type": "implicit"})
    assert assert_problem(unknown_grant, 422)["field"] == "grant_type"


def test_api_docs_are_served(http: httpx.Client) -> None:
    spec = http.get("/openapi.json").json()
    assert "/v1/auth/token" in spec["paths"]
    assert http.get("/docs").status_code == 200


def test_prometheus_metrics_label_routes_not_ids(
    http: httpx.Client, login: Login, running_suite: Suite
) -> None:
    staff = login("staff.nh")
    http.get("/v1/me", headers=staff)
    http.get("/v1/accounts/acc_0123456789abcdef", headers=staff)
    scraper = {"Authorization": f"Bearer {running_suite.env['METRICS_TOKEN']}"}
    text = http.get("/metrics", headers=scraper).text
    assert 'gateway_requests_total{method="GET",route="/v1/me",status="200"}' in text
    assert 'route="/v1/accounts/{account_id}",status="404"' in text
    assert "acc_0123456789abcdef" not in text
    assert (
        'gateway_rpc_seconds_count{method="get_account",outcome="NotFound",service="identity"}'
        in text
    )
    assert "gateway_broker_connected 1.0" in text
