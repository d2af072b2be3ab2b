"""E-certificates end to end: issue, the holder's wallet, the public check, revocation, the
signed status list, and the events other services learn from."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pika

from services.certs import statuslist
from services.certs.signing import signature_valid
from services.common.crypto import public_key_from_jwk
from tests.conftest import Suite
from tests.e2e.test_foundation import assert_problem

Login = Callable[[str], dict[str, str]]


def subject_of(http: httpx.Client, login: Login, username: str) -> str:
    sub: str = http.get("/v1/me", headers=login(username)).json()["subject_id"]
    return sub


def issue(http: httpx.Client, staff: dict[str, str], **body: Any) -> httpx.Response:
    return http.post("/v1/certificates", headers=staff, json=body)


def test_issue_check_revoke_and_the_status_list(
    http: httpx.Client, login: Login, running_suite: Suite
) -> None:
    holder = subject_of(http, login, "citizen.li")
    staff = login("staff.cl")
    connection = pika.BlockingConnection(pika.URLParameters(running_suite.env["AMQP_URI"]))
    channel = connection.channel()
    channel.exchange_declare("certs.events", exchange_type="topic", durable=True)
    queue = channel.queue_declare("", exclusive=True).method.queue
    for event in ("cert_issued", "cert_revoked"):
        channel.queue_bind(queue, "certs.events", routing_key=event)
    try:
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
        assert signature_valid(certificate, certificate["signature"], seal)

        wallet = http.get("/v1/me/certificates", headers=login("citizen.li")).json()
        assert [c["number"] for c in wallet] == [certificate["number"]]
        public = http.get(f"/v1/certificates/{certificate['number']}/verify").json()
        assert public["result"] == "authentic"
        assert public["face"] == {"holder_name": "李秀英", "category": "视力", "grade": "一级"}
        assert "subject" not in public
        assert holder not in json.dumps(public)

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

        events = {}
        for _ in range(2):
            method, _props, payload = next(channel.consume(queue, inactivity_timeout=10))
            assert method is not None, "no event within 10 s"
            events[method.routing_key] = json.loads(payload)
            channel.basic_ack(method.delivery_tag)
        channel.cancel()
    finally:
        connection.close()
    assert events["cert_issued"] == {
        "certificate_id": certificate["id"],
        "number": certificate["number"],
        "type": "disability_certificate",
        "issuer": "iss_hpcl",
        "subject": holder,
        "face": {"holder_name": "李秀英", "category": "视力", "grade": "一级"},
        "status": "valid",
        "version": 1,
        "valid_until": certificate["valid_until"],
    }
    assert events["cert_revoked"]["status"] == "revoked"
    assert events["cert_revoked"]["certificate_id"] == certificate["id"]


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
