"""One case per HTTP operation: the request a persona makes, on which target, and which
resources the operation's rules are applied to (in order), described from what the world
knows of them. ``fresh``: every persona the model allows gets a target of its own (the act
consumes it); the refused ones share one (a refusal changes nothing)."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from services.common.access import Resource, principal
from tests.e2e.matrix.world import CL, DISTRICT, PASSWORD, SJ, Persona, World, unique


@dataclass
class Call:
    path: dict[str, str] = field(default_factory=dict)
    query: dict[str, Any] | None = None
    json: Any = None
    data: dict[str, str] | None = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    checks: list[tuple[str, Resource | None]] = field(default_factory=list)
    fresh_token: bool = False
    # For a listing: the operation whose rule decides, the resource, and whether it is in the
    # answer; the model says whether it should be.
    listed: tuple[str, Resource, Callable[[Any], bool]] | None = None


Make = Callable[[World, Persona, Any], Call]


@dataclass
class Case:
    route: str
    make: Make
    target: Callable[[World], Any] | None = None
    fresh: bool = False
    # What an allowed caller is answered when the act itself refuses (a payment callback
    # without the partner's signature): still the same for every persona.
    allowed_answer: int | None = None


CASES: dict[str, Case] = {}


def case(
    route: str,
    target: Callable[[World], Any] | None = None,
    *,
    fresh: bool = False,
    allowed_answer: int | None = None,
) -> Callable[[Make], Make]:
    def register(make: Make) -> Make:
        assert route not in CASES, route
        CASES[route] = Case(route, make, target, fresh, allowed_answer)
        return make

    return register


# Resources as the world knows them.


def unit(path: str | None) -> Resource:
    return Resource("org_unit", units=(path,) if path else ())


def subject(sub: str, place: str) -> Resource:
    return Resource("subject", subject=sub, units=(place,))


def account(account_id: str, place: str | None) -> Resource:
    return Resource("account", account=account_id, units=(place,) if place else ())


def issuer(owner: str) -> Resource:
    return Resource("issuer", owners=(owner,), public=True)


def holder(sub: str, place: str, owner: str) -> Resource:
    return Resource(
        "holder", subject=sub, units=(place,), owners=(owner,), extra={"area": DISTRICT}
    )


def certificate(sub: str, place: str, owner: str = CL) -> Resource:
    return Resource("certificate", subject=sub, units=(place,), owners=(owner,))


def application(sub: str, place: str) -> Resource:
    return Resource("application", subject=sub, units=(place,), owners=(CL,))


def presentation(sub: str, account_id: str) -> Resource:
    return Resource("presentation", subject=sub, account=account_id)


def policy(owner: str, public: bool) -> Resource:
    return Resource("policy", owners=(owner,), public=public)


def fact_subject(sub: str, place: str) -> Resource:
    return Resource("subject", subject=sub, units=(place,))


def payout(sub: str, place: str, owner: str = CL) -> Resource:
    return Resource("payout", subject=sub, units=(place,), owners=(owner,))


def correction(sub: str, place: str) -> Resource:
    return Resource("correction", subject=sub, units=(place,))


def owned(kind: str, owner: str | None) -> Resource:
    return Resource(
        kind,
        units=(owner,) if owner else (),
        owners=(owner,) if owner else (),
        public=owner is None,
    )


def delegation(principal_id: str, agent: str, place: str, kind: str = "proxy") -> Resource:
    return Resource(
        "delegation", subject=principal_id, parties=(agent,), units=(place,), extra={"kind": kind}
    )


def session(account_id: str) -> Resource:
    return Resource("session", account=account_id)


def scene(name: str) -> Resource:
    return Resource("scene", scene=name, public=True)


def plain(*ops: str) -> list[tuple[str, Resource | None]]:
    return [(op, None) for op in ops]


def account_of(w: World, persona: str) -> str:
    actor = w.personas[persona].actor
    assert actor is not None
    assert actor.account_id is not None
    return actor.account_id


def subject_of(w: World, persona: str) -> str:
    actor = w.personas[persona].actor
    assert actor is not None
    assert actor.subject_id is not None
    return actor.subject_id


# e-certificates


@case("GET /v1/certificate-types")
def _types(w: World, p: Persona, t: Any) -> Call:
    return Call(checks=plain("certs.list_types"))


@case("POST /v1/issuers", fresh=True)
def _create_issuer(w: World, p: Persona, t: Any) -> Call:
    code = "MX" + secrets.token_hex(3).upper()
    body = {"code": code, "name": "矩阵发证机关", "org_path": SJ, "types": ["driving_licence"]}
    return Call(json=body, checks=plain("certs.create_issuer"))


@case("GET /v1/issuers")
def _issuers(w: World, p: Persona, t: Any) -> Call:
    return Call(checks=plain("certs.list_issuers"))


@case("GET /.well-known/cert-keys.json")
def _cert_keys(w: World, p: Persona, t: Any) -> Call:
    return Call(checks=plain("certs.issuer_keys"))


@case("GET /v1/issuers/{issuer_id}/status-list")
def _status_list(w: World, p: Persona, t: Any) -> Call:
    return Call(path={"issuer_id": "iss_hpcl"}, checks=plain("certs.status_list"))


def fresh_holder(w: World) -> dict[str, Any]:
    """A person of street A with no certificate yet (one disability certificate each)."""
    return w.make_person()


@case("POST /v1/certificates", fresh_holder, fresh=True)
def _issue(w: World, p: Persona, t: Any) -> Call:
    body = {
        "issuer": "iss_hpcl",
        "type": "disability_certificate",
        "subject": t["id"],
        "fields": {"category": "视力", "grade": "四级"},
        "request_id": unique("matrix"),
    }
    checks = [
        ("certs.issue_certificate", issuer(CL)),
        ("certs.issue_certificate", holder(t["id"], w.street_a, CL)),
    ]
    return Call(json=body, checks=checks)


def fresh_certificate(w: World) -> dict[str, Any]:
    return w.make_spare_certificate()


@case("POST /v1/certificates/{certificate_id}/amend", fresh_certificate, fresh=True)
def _amend(w: World, p: Persona, t: Any) -> Call:
    return Call(
        path={"certificate_id": t["id"]},
        json={"fields": {"grade": "二级"}, "reason": "复评"},
        checks=[("certs.amend_certificate", certificate(t["subject"], w.street_a))],
    )


@case("GET /v1/certificates/by-subject")
def _by_subject(w: World, p: Persona, t: Any) -> Call:
    number = w.certificate["number"]
    return Call(
        query={"subject": w.self_id},
        checks=plain("certs.certificates_of"),
        listed=(
            "certs.certificates_of",
            certificate(w.self_id, w.street_a),
            lambda answer: number in [c["number"] for c in answer],
        ),
    )


@case("GET /v1/certificates/{certificate_id}/versions")
def _versions(w: World, p: Persona, t: Any) -> Call:
    return Call(
        path={"certificate_id": w.certificate["id"]},
        checks=[("certs.certificate_versions", certificate(w.self_id, w.street_a))],
    )


@case("POST /v1/certificates/{certificate_id}/{action}", fresh_certificate, fresh=True)
def _suspend(w: World, p: Persona, t: Any) -> Call:
    return Call(
        path={"certificate_id": t["id"], "action": "suspend"},
        json={"reason": "核查"},
        checks=[("certs.change_status", certificate(t["subject"], w.street_a))],
    )


@case("GET /v1/me/certificates")
def _wallet(w: World, p: Persona, t: Any) -> Call:
    number = w.certificate["number"]
    return Call(
        checks=plain("certs.my_certificates"),
        listed=(
            "certs.my_certificates",
            certificate(w.self_id, w.street_a),
            lambda answer: number in [c["number"] for c in answer],
        ),
    )


@case("GET /v1/certificates/{number}/verify")
def _public_check(w: World, p: Persona, t: Any) -> Call:
    return Call(path={"number": w.certificate["number"]}, checks=plain("certs.public_check"))


@case("POST /v1/presentations")
def _present(w: World, p: Persona, t: Any) -> Call:
    body = {"certificate_ids": [w.certificate["id"]], "fields": ["grade"]}
    return Call(
        json=body,
        checks=[("certs.create_presentation", certificate(w.self_id, w.street_a))],
    )


def fresh_presentation(w: World) -> dict[str, Any]:
    made: dict[str, Any] = w.call(
        "POST",
        "/v1/presentations",
        "self",
        json={"certificate_ids": [w.certificate["id"]], "fields": ["grade"]},
    )
    return made


@case("DELETE /v1/presentations/{presentation_id}", fresh_presentation, fresh=True)
def _withdraw(w: World, p: Persona, t: Any) -> Call:
    return Call(
        path={"presentation_id": t["id"]},
        checks=[("certs.revoke_presentation", presentation(w.self_id, account_of(w, "self")))],
    )


@case("POST /v1/presentations/verify", fresh_presentation)
def _verify_presentation(w: World, p: Persona, t: Any) -> Call:
    return Call(
        json={"token": t["token"], "purpose": "hotel"}, checks=plain("certs.verify_presentation")
    )


@case("GET /v1/me/disclosures")
def _disclosures(w: World, p: Persona, t: Any) -> Call:
    return Call(checks=plain("certs.my_disclosures"))


@case("GET /v1/issuers/{issuer_id}/disclosure-stats")
def _disclosure_stats(w: World, p: Persona, t: Any) -> Call:
    return Call(path={"issuer_id": "iss_hpcl"}, checks=[("certs.disclosure_stats", issuer(CL))])


@case("POST /v1/applications")
def _apply(w: World, p: Persona, t: Any) -> Call:
    # Everyone applies for *self* (who has an application open already: 409 once allowed).
    return Call(
        json={"note": "矩阵申请"},
        headers={"X-On-Behalf-Of": w.self_id},
        checks=[("certs.apply_for_certificate", principal(w.self_id))],
    )


@case("POST /v1/persons/{person_id}/applications", lambda w: w.person(w.street_a), fresh=True)
def _file_application(w: World, p: Persona, t: Any) -> Call:
    applicant = Resource("applicant", subject=t["id"], units=(w.street_a,))
    return Call(
        path={"person_id": t["id"]},
        json={"note": "窗口录入"},
        checks=[("certs.file_application", applicant)],
    )


@case("GET /v1/me/applications")
def _my_applications(w: World, p: Persona, t: Any) -> Call:
    return Call(checks=plain("certs.my_applications"))


def application_in(state: str) -> Callable[[World], dict[str, Any]]:
    def make(w: World) -> dict[str, Any]:
        return w.make_application(state)

    return make


@case("GET /v1/applications", application_in("submitted"))
def _application_queue(w: World, p: Persona, t: Any) -> Call:
    return Call(
        checks=plain("certs.list_applications"),
        listed=(
            "certs.list_applications",
            application(t["applicant"], w.street_a),
            lambda answer: t["id"] in [a["id"] for a in answer],
        ),
    )


@case("GET /v1/applications/{application_id}", application_in("submitted"))
def _application(w: World, p: Persona, t: Any) -> Call:
    return Call(
        path={"application_id": t["id"]},
        checks=[("certs.get_application", application(t["applicant"], w.street_a))],
    )


@case("POST /v1/applications/{application_id}/review", application_in("submitted"), fresh=True)
def _review(w: World, p: Persona, t: Any) -> Call:
    return Call(
        path={"application_id": t["id"]},
        json={"approve": True},
        checks=[("certs.review_application", application(t["applicant"], w.street_a))],
    )


@case(
    "POST /v1/applications/{application_id}/assessment",
    application_in("reviewed"),
    fresh=True,
)
def _assess(w: World, p: Persona, t: Any) -> Call:
    body = {"issuer": "iss_hpcl", "category": "视力", "grade": "三级"}
    return Call(
        path={"application_id": t["id"]},
        json=body,
        checks=[
            ("certs.assess_application", application(t["applicant"], w.street_a)),
            ("certs.assess_application", issuer(CL)),
        ],
    )


@case("POST /v1/applications/{application_id}/issue", application_in("assessed"), fresh=True)
def _issue_application(w: World, p: Persona, t: Any) -> Call:
    return Call(
        path={"application_id": t["id"]},
        checks=[
            ("certs.issue_from_application", application(t["applicant"], w.street_a)),
            ("certs.issue_from_application", issuer(CL)),
        ],
    )


@case("GET /v1/me/certificates/{certificate_id}/card.{kind}")
def _card(w: World, p: Persona, t: Any) -> Call:
    return Call(
        path={"certificate_id": w.certificate["id"], "kind": "png"},
        checks=[("certs.my_certificate_card", certificate(w.self_id, w.street_a))],
    )


# the gateway's own


@case("GET /healthz")
def _healthz(w: World, p: Persona, t: Any) -> Call:
    return Call(checks=plain("gateway.healthz"))


@case("GET /readyz")
def _readyz(w: World, p: Persona, t: Any) -> Call:
    return Call(checks=plain("gateway.readyz"))


@case("GET /v1/services/{service}/health")
def _service_health(w: World, p: Persona, t: Any) -> Call:
    return Call(path={"service": "certs"}, checks=plain("gateway.service_health", "certs.health"))


@case("POST /v1/auth/token")
def _token(w: World, p: Persona, t: Any) -> Call:
    who = p if p.actor is not None else w.personas["self"]
    if who.client is not None:
        form = {
            "grant_type": "client_credentials",
            "client_id": who.client[0],
            "client_secret": who.client[1],
        }
    else:
        form = {"grant_type": "password", "username": str(who.username), "password": PASSWORD}
    return Call(data=form, checks=plain("gateway.issue_token", "identity.authenticate"))


@case("POST /v1/auth/logout")
def _logout(w: World, p: Persona, t: Any) -> Call:
    return Call(checks=plain("gateway.logout"), fresh_token=True)


@case("GET /v1/me")
def _me(w: World, p: Persona, t: Any) -> Call:
    return Call(checks=plain("gateway.read_me", "identity.get_account"))


@case("GET /v1/me/sessions")
def _sessions(w: World, p: Persona, t: Any) -> Call:
    return Call(checks=plain("gateway.list_sessions"))


@case("DELETE /v1/me/sessions")
def _end_others(w: World, p: Persona, t: Any) -> Call:
    return Call(checks=plain("gateway.end_all_sessions"))


def fresh_session_of_self(w: World) -> str:
    token = w.personas["self"].fresh(w.http)
    listed = w.http.get("/v1/me/sessions", headers=token).json()
    return str(next(s["id"] for s in listed if s["current"]))


@case("DELETE /v1/me/sessions/{session_id}", fresh_session_of_self, fresh=True)
def _end_session(w: World, p: Persona, t: Any) -> Call:
    return Call(
        path={"session_id": t}, checks=[("gateway.end_session", session(account_of(w, "self")))]
    )


@case("POST /v1/me/password")
def _password(w: World, p: Persona, t: Any) -> Call:
    # The same password again: an allowed caller is told it must differ (422), nothing changes.
    return Call(
        json={"current": PASSWORD, "new": PASSWORD},
        checks=plain("identity.change_password", "gateway.end_all_sessions"),
    )


@case("POST /v1/partner-clients", fresh=True)
def _create_partner(w: World, p: Persona, t: Any) -> Call:
    body = {"client_id": unique("matrix-client"), "name": "矩阵伙伴", "scopes": []}
    return Call(json=body, checks=plain("gateway.create_partner_client"))


@case("GET /v1/partner-clients")
def _partners(w: World, p: Persona, t: Any) -> Call:
    return Call(checks=plain("gateway.list_partner_clients"))


def fresh_client(w: World) -> str:
    client_id = unique("matrix-spare")
    w.call(
        "POST",
        "/v1/partner-clients",
        json={"client_id": client_id, "name": "备用", "scopes": []},
    )
    return client_id


@case("POST /v1/partner-clients/{client_id}/{action}", fresh_client, fresh=True)
def _partner_status(w: World, p: Persona, t: Any) -> Call:
    return Call(
        path={"client_id": t, "action": "disable"},
        checks=[("gateway.set_partner_client_status", Resource("partner_client"))],
    )


# accounts and the jurisdiction tree


@case("POST /v1/accounts", fresh=True)
def _create_account(w: World, p: Persona, t: Any) -> Call:
    body = {
        "username": unique("matrix.new"),
        "password": PASSWORD,
        "roles": ["enterprise"],
        "org_path": w.street_a,
    }
    return Call(json=body, checks=[("identity.create_account", unit(w.street_a))])


@case("GET /v1/accounts")
def _accounts(w: World, p: Persona, t: Any) -> Call:
    return Call(
        query={"org_path": w.street_a}, checks=[("identity.list_accounts", unit(w.street_a))]
    )


@case("GET /v1/accounts/{account_id}")
def _account(w: World, p: Persona, t: Any) -> Call:
    target = account_of(w, "self")
    return Call(
        path={"account_id": target},
        checks=[("identity.get_account", account(target, w.street_a))],
    )


def spare_account(w: World) -> dict[str, Any]:
    return w.make_account()


@case("POST /v1/accounts/{account_id}/password", spare_account, fresh=True)
def _reset(w: World, p: Persona, t: Any) -> Call:
    return Call(
        path={"account_id": t["id"]},
        json={"new": "Matrix-reset-2026"},
        checks=[("identity.reset_password", account(t["id"], w.street_a))],
    )


@case("POST /v1/accounts/{account_id}/{action}", spare_account, fresh=True)
def _disable(w: World, p: Persona, t: Any) -> Call:
    return Call(
        path={"account_id": t["id"], "action": "disable"},
        checks=[("identity.set_account_status", account(t["id"], w.street_a))],
    )


@case("POST /v1/org-units", fresh=True)
def _create_unit(w: World, p: Persona, t: Any) -> Call:
    body = {
        "code": "D" + secrets.token_hex(3),
        "name": "矩阵科室",
        "kind": "department",
        "parent": w.street_a,
    }
    return Call(json=body, checks=[("identity.create_org_unit", unit(w.street_a))])


@case("GET /v1/org-units")
def _units(w: World, p: Persona, t: Any) -> Call:
    return Call(query={"root": w.street_a}, checks=[("identity.list_org_units", unit(w.street_a))])


@case("GET /v1/org-units:search")
def _find_units(w: World, p: Persona, t: Any) -> Call:
    return Call(query={"text": "矩阵"}, checks=plain("identity.find_org_units"))


@case("GET /v1/org-units/{path}")
def _unit(w: World, p: Persona, t: Any) -> Call:
    return Call(path={"path": w.street_a}, checks=[("identity.get_org_unit", unit(w.street_a))])


# persons and organisations


@case("POST /v1/persons", fresh=True)
def _register(w: World, p: Persona, t: Any) -> Call:
    from tests.e2e.matrix.world import _births
    from tests.idnumbers import resident_id

    body = {"name": "矩阵新居民", "id_number": resident_id(next(_births)), "org_path": w.street_a}
    return Call(json=body, checks=[("identity.register_person", unit(w.street_a))])


@case("GET /v1/persons")
def _persons(w: World, p: Persona, t: Any) -> Call:
    return Call(
        query={"org_path": w.street_a}, checks=[("identity.list_persons", unit(w.street_a))]
    )


@case("GET /v1/persons/{person_id}")
def _person(w: World, p: Persona, t: Any) -> Call:
    return Call(
        path={"person_id": w.self_id},
        checks=[("identity.get_subject", subject(w.self_id, w.street_a))],
    )


def fresh_person(w: World) -> dict[str, Any]:
    return w.make_person()


@case("POST /v1/persons/{person_id}/freeze", fresh_person, fresh=True)
def _freeze(w: World, p: Persona, t: Any) -> Call:
    return Call(
        path={"person_id": t["id"]},
        json={"reason": "核查"},
        checks=[("identity.freeze_subject", subject(t["id"], w.street_a))],
    )


@case("POST /v1/persons/{person_id}/unfreeze", fresh_person, fresh=True)
def _unfreeze(w: World, p: Persona, t: Any) -> Call:
    return Call(
        path={"person_id": t["id"]},
        checks=[("identity.unfreeze_subject", subject(t["id"], w.street_a))],
    )


@case("POST /v1/persons/{person_id}/printed-code", fresh_person, fresh=True)
def _printed(w: World, p: Persona, t: Any) -> Call:
    return Call(
        path={"person_id": t["id"]},
        checks=[("identity.issue_printed_code", subject(t["id"], w.street_a))],
    )


def person_with_card(w: World) -> dict[str, Any]:
    person = w.make_person()
    w.call("POST", f"/v1/persons/{person['id']}/printed-code", "staff.a")
    return person


@case("GET /v1/persons/{person_id}/printed-code/card.png", person_with_card)
def _card_png(w: World, p: Persona, t: Any) -> Call:
    return Call(
        path={"person_id": t["id"]},
        checks=[("identity.get_printed_code", subject(t["id"], w.street_a))],
    )


def ward_and_guardian(w: World) -> tuple[dict[str, Any], dict[str, Any]]:
    return w.make_person(), w.make_person()


@case("POST /v1/persons/{person_id}/guardians", ward_and_guardian, fresh=True)
def _guardian(w: World, p: Persona, t: Any) -> Call:
    ward, guardian = t
    return Call(
        path={"person_id": ward["id"]},
        json={"guardian_id": guardian["id"], "reason": "未成年"},
        checks=[
            ("identity.appoint_guardian", subject(ward["id"], w.street_a)),
            ("identity.appoint_guardian", subject(guardian["id"], w.street_a)),
        ],
    )


def guardianship(w: World) -> tuple[str, str]:
    """A ward of street A whose guardian is proxy.full: (delegation id, ward id)."""
    ward = w.make_person()
    appointed = w.call(
        "POST",
        f"/v1/persons/{ward['id']}/guardians",
        "staff.a",
        json={"guardian_id": subject_of(w, "proxy.full"), "reason": "未成年"},
    )
    return str(appointed["id"]), str(ward["id"])


@case("DELETE /v1/persons/{person_id}/guardians/{delegation_id}", guardianship, fresh=True)
def _end_guardianship(w: World, p: Persona, t: Any) -> Call:
    delegation_id, ward_id = t
    return Call(
        path={"person_id": ward_id, "delegation_id": delegation_id},
        checks=[
            (
                "identity.revoke_delegation",
                delegation(ward_id, subject_of(w, "proxy.full"), w.street_a, kind="guardian"),
            )
        ],
    )


@case("POST /v1/organisations", fresh=True)
def _register_org(w: World, p: Persona, t: Any) -> Call:
    from tests.idnumbers import credit_code

    body = {"name": "矩阵新企业", "credit_code": credit_code(), "org_path": w.street_a}
    return Call(json=body, checks=[("identity.register_organisation", unit(w.street_a))])


@case("GET /v1/organisations/{organisation_id}")
def _organisation(w: World, p: Persona, t: Any) -> Call:
    return Call(
        path={"organisation_id": w.org_a},
        checks=[("identity.get_subject", subject(w.org_a, w.street_a))],
    )


@case("POST /v1/organisations/{organisation_id}/operators", spare_account, fresh=True)
def _operator(w: World, p: Persona, t: Any) -> Call:
    return Call(
        path={"organisation_id": w.org_a},
        json={"account_id": t["id"], "role": "operator"},
        checks=[
            ("identity.add_operator", subject(w.org_a, w.street_a)),
            ("identity.add_operator", unit(w.street_a)),
        ],
    )


def fresh_org(w: World) -> str:
    from tests.idnumbers import credit_code

    made = w.call(
        "POST",
        "/v1/organisations",
        "staff.a",
        json={"name": "矩阵备用企业", "credit_code": credit_code(), "org_path": w.street_a},
    )
    return str(made["id"])


@case("POST /v1/organisations/{organisation_id}/freeze", fresh_org, fresh=True)
def _freeze_org(w: World, p: Persona, t: Any) -> Call:
    return Call(
        path={"organisation_id": t},
        json={"reason": "核查"},
        checks=[("identity.freeze_subject", subject(t, w.street_a))],
    )


@case("POST /v1/organisations/{organisation_id}/unfreeze", fresh_org, fresh=True)
def _unfreeze_org(w: World, p: Persona, t: Any) -> Call:
    return Call(
        path={"organisation_id": t},
        checks=[("identity.unfreeze_subject", subject(t, w.street_a))],
    )


def _org_code(w: World, p: Persona, t: Any) -> Call:
    return Call(
        path={"organisation_id": w.org_a},
        checks=[("identity.issue_code", subject(w.org_a, w.street_a))],
    )


case("POST /v1/organisations/{organisation_id}/code")(_org_code)
case("GET /v1/organisations/{organisation_id}/code.png")(_org_code)


@case("GET /v1/me/organisations")
def _my_orgs(w: World, p: Persona, t: Any) -> Call:
    return Call(checks=plain("identity.my_organisations"))


# codes and scans


def _my_code(w: World, p: Persona, t: Any) -> Call:
    return Call(
        headers={"X-On-Behalf-Of": w.self_id},
        checks=[("identity.issue_code", principal(w.self_id))],
    )


case("POST /v1/me/code")(_my_code)
case("GET /v1/me/code.png")(_my_code)
case("GET /v1/me/code.svg")(_my_code)


@case("POST /v1/me/code/freeze")
def _freeze_mine(w: World, p: Persona, t: Any) -> Call:
    return Call(checks=plain("identity.freeze_my_code"))


@case("POST /v1/me/code/unfreeze")
def _unfreeze_mine(w: World, p: Persona, t: Any) -> Call:
    return Call(checks=plain("identity.unfreeze_my_code"), fresh_token=True)


@case("GET /v1/me/scans")
def _scans(w: World, p: Persona, t: Any) -> Call:
    return Call(checks=plain("identity.list_my_scans"))


@case("POST /v1/codes/verify")
def _verify_code(w: World, p: Persona, t: Any) -> Call:
    return Call(
        json={"token": "x.y.z", "scene": "hotel"},
        checks=[("identity.verify_code", scene("hotel"))],
    )


@case("POST /v1/codes/scan-logs")
def _scan_logs(w: World, p: Persona, t: Any) -> Call:
    return Call(
        json={"terminal_id": "matrix-1", "entries": []}, checks=plain("identity.upload_scan_logs")
    )


@case("GET /.well-known/jwks.json")
def _jwks(w: World, p: Persona, t: Any) -> Call:
    return Call(checks=plain("identity.code_jwks"))


@case("POST /v1/admin/card-keys/rotate")
def _rotate_card_key(w: World, p: Persona, t: Any) -> Call:
    return Call(checks=plain("identity.rotate_card_key"))


@case("GET /v1/codes/printed/status-list")
def _printed_status_list(w: World, p: Persona, t: Any) -> Call:
    return Call(checks=plain("identity.printed_status_list"))


@case("POST /v1/admin/code-keys/rotate")
def _rotate(w: World, p: Persona, t: Any) -> Call:
    return Call(checks=plain("identity.rotate_code_key"))


# proxies


@case("GET /v1/me/proxies")
def _proxies(w: World, p: Persona, t: Any) -> Call:
    return Call(checks=plain("identity.list_my_delegations"))


@case("POST /v1/me/proxies", fresh=True)
def _ask_proxy(w: World, p: Persona, t: Any) -> Call:
    until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 86400))
    body = {
        "proxy_id_number": str(w.personas["other"].id_number),
        "proxy_name": "矩阵居民",
        "scopes": ["show_code"],
        "valid_until": until,
    }
    return Call(json=body, checks=plain("identity.authorize_proxy"))


def request_to_self(w: World) -> dict[str, Any]:
    """A pending request from *other* that *self* act for them."""
    until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 86400))
    made: dict[str, Any] = w.call(
        "POST",
        "/v1/me/proxies",
        "other",
        json={
            "proxy_id_number": str(w.personas["self"].id_number),
            "proxy_name": "矩阵居民",
            "scopes": ["show_code"],
            "valid_until": until,
        },
    )
    return made


@case("POST /v1/me/proxies/{delegation_id}/{answer}", request_to_self, fresh=True)
def _answer_proxy(w: World, p: Persona, t: Any) -> Call:
    return Call(
        path={"delegation_id": t["id"], "answer": "decline"},
        checks=[
            (
                "identity.answer_proxy_request",
                delegation(w.other_id, w.self_id, w.street_b),
            )
        ],
    )


def delegation_to_proxy(w: World) -> tuple[str, str]:
    """A person of street A who made proxy.full their proxy: (delegation id, principal)."""
    principal_person = w.person(w.street_a, login=True)
    headers = w.http.post(
        "/v1/auth/token",
        data={
            "grant_type": "password",
            "username": principal_person["username"],
            "password": PASSWORD,
        },
    ).json()["access_token"]
    until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 86400))
    asked = w.http.post(
        "/v1/me/proxies",
        headers={"Authorization": f"Bearer {headers}"},
        json={
            "proxy_id_number": str(w.personas["proxy.full"].id_number),
            "proxy_name": "矩阵居民",
            "scopes": ["show_code"],
            "valid_until": until,
        },
    ).json()
    w.call("POST", f"/v1/me/proxies/{asked['id']}/accept", "proxy.full")
    return str(asked["id"]), str(principal_person["id"])


@case("DELETE /v1/me/proxies/{delegation_id}", delegation_to_proxy, fresh=True)
def _revoke_proxy(w: World, p: Persona, t: Any) -> Call:
    delegation_id, principal_id = t
    return Call(
        path={"delegation_id": delegation_id},
        checks=[
            (
                "identity.revoke_delegation",
                delegation(principal_id, subject_of(w, "proxy.full"), w.street_a),
            )
        ],
    )


@case("GET /v1/me/activity")
def _activity(w: World, p: Persona, t: Any) -> Call:
    return Call(checks=plain("identity.my_activity"))


# policies, facts, payouts


@case("GET /v1/fact-kinds")
def _fact_kinds(w: World, p: Persona, t: Any) -> Call:
    return Call(checks=plain("policy.list_fact_kinds"))


@case("POST /v1/fact-kinds", fresh=True)
def _declare_fact_kind(w: World, p: Persona, t: Any) -> Call:
    name = "matrix_" + secrets.token_hex(4)
    return Call(
        json={"name": name, "label": "矩阵事实", "type": "integer", "minimum": 0},
        checks=plain("policy.declare_fact_kind"),
    )


@case("POST /v1/policies", fresh=True)
def _create_policy(w: World, p: Persona, t: Any) -> Call:
    body = {
        "code": unique("matrix"),
        "title": "矩阵新政策",
        "department": "区残联",
        "category": "助残",
        "subject_type": "person",
        "conditions": {"fact": "age", "op": ">=", "value": 60, "label": "年满60周岁"},
    }
    return Call(json=body, checks=plain("policy.create_policy"))


@case("GET /v1/policies")
def _policies(w: World, p: Persona, t: Any) -> Call:
    draft = w.draft["id"]
    return Call(
        checks=plain("policy.list_policies"),
        listed=(
            "policy.list_policies",
            policy(CL, public=False),
            lambda answer: draft in [x["id"] for x in answer],
        ),
    )


@case("GET /v1/policies/{policy_id}")
def _policy(w: World, p: Persona, t: Any) -> Call:
    return Call(
        path={"policy_id": w.draft["id"]},
        checks=[("policy.get_policy", policy(CL, public=False))],
    )


@case("PUT /v1/policies/{policy_id}")
def _edit_policy(w: World, p: Persona, t: Any) -> Call:
    body = {
        "title": "矩阵政策（修改）",
        "department": "区残联",
        "category": "助残",
        "subject_type": "person",
        "conditions": {"fact": "age", "op": ">=", "value": 65, "label": "年满65周岁"},
    }
    return Call(
        path={"policy_id": w.draft["id"]},
        json=body,
        checks=[("policy.edit_policy", policy(CL, public=False))],
    )


@case("POST /v1/policies/{policy_id}/simulate")
def _simulate(w: World, p: Persona, t: Any) -> Call:
    return Call(
        path={"policy_id": w.draft["id"]},
        checks=[("policy.simulate_policy", policy(CL, public=False))],
    )


@case("POST /v1/policies/{policy_id}/payout-runs", lambda w: w.paying_policy())
def _payout_run(w: World, p: Persona, t: Any) -> Call:
    return Call(
        path={"policy_id": t["id"]},
        json={"period": "once"},
        checks=[("policy.run_payouts", policy(CL, public=True))],
    )


@case("GET /v1/policies/{policy_id}/ledger")
def _ledger(w: World, p: Persona, t: Any) -> Call:
    return Call(
        path={"policy_id": w.policy["id"]},
        checks=[("policy.policy_ledger", policy(CL, public=True))],
    )


@case("GET /v1/policies/{policy_id}/payouts", lambda w: w.offered_payout())
def _policy_payouts(w: World, p: Persona, t: Any) -> Call:
    return Call(
        path={"policy_id": w.paying_policy()["id"]},
        checks=plain("policy.policy_payouts"),
        listed=(
            "policy.policy_payouts",
            payout(w.self_id, w.street_a),
            lambda answer: t in [x["id"] for x in answer["items"]],
        ),
    )


@case("GET /v1/me/payouts")
def _my_payouts(w: World, p: Persona, t: Any) -> Call:
    return Call(checks=plain("policy.my_payouts"))


@case("POST /v1/me/payouts/{payout_id}/{answer}", lambda w: w.offered_payout())
def _respond(w: World, p: Persona, t: Any) -> Call:
    return Call(
        path={"payout_id": t, "answer": "decline"},
        checks=[("policy.respond_to_payout", payout(w.self_id, w.street_a))],
    )


@case("POST /v1/me/fact-corrections")
def _dispute(w: World, p: Persona, t: Any) -> Call:
    w.known_to_policy(w.self_id)
    body = {"fact": "monthly_income", "proposed": 0, "evidence": "收入证明", "subject": w.self_id}
    return Call(json=body, checks=[("policy.dispute_fact", fact_subject(w.self_id, w.street_a))])


@case("GET /v1/me/fact-corrections")
def _my_corrections(w: World, p: Persona, t: Any) -> Call:
    return Call(checks=plain("policy.my_fact_corrections"))


def fresh_correction(w: World) -> str:
    w.known_to_policy(w.self_id)
    made = w.call(
        "POST",
        "/v1/me/fact-corrections",
        "self",
        json={"fact": "monthly_income", "proposed": 1, "evidence": "证明", "subject": w.self_id},
    )
    return str(made["id"])


@case("POST /v1/fact-corrections/{correction_id}/{decision}", fresh_correction, fresh=True)
def _decide(w: World, p: Persona, t: Any) -> Call:
    return Call(
        path={"correction_id": t, "decision": "reject"},
        json={"reason": "证据不足"},
        checks=[("policy.decide_fact_correction", correction(w.self_id, w.street_a))],
    )


@case("GET /v1/policies/{policy_id}/unreceived")
def _unreceived(w: World, p: Persona, t: Any) -> Call:
    return Call(path={"policy_id": w.policy["id"]}, checks=plain("policy.unreceived"))


@case("POST /v1/policies/{policy_id}/unreceived/tasks")
def _unreceived_tasks(w: World, p: Persona, t: Any) -> Call:
    return Call(path={"policy_id": w.policy["id"]}, checks=plain("policy.open_unreceived_tasks"))


@case("POST /v1/policies/{policy_id}/{action}", lambda w: w.make_policy("draft"), fresh=True)
def _publish(w: World, p: Persona, t: Any) -> Call:
    return Call(
        path={"policy_id": t["id"], "action": "publish"},
        checks=[("policy.change_policy_status", policy(CL, public=False))],
    )


@case("PUT /v1/subjects/{subject}/facts")
def _put_facts(w: World, p: Persona, t: Any) -> Call:
    w.known_to_policy(w.self_id)
    return Call(
        path={"subject": w.self_id},
        json={"facts": {"monthly_income": 120000}},
        checks=[("policy.put_facts", fact_subject(w.self_id, w.street_a))],
    )


@case("GET /v1/subjects/{subject}/facts")
def _facts(w: World, p: Persona, t: Any) -> Call:
    w.known_to_policy(w.self_id)
    return Call(
        path={"subject": w.self_id},
        checks=[("policy.subject_facts", fact_subject(w.self_id, w.street_a))],
    )


@case("POST /v1/facts:bulk", fresh=True)
def _bulk(w: World, p: Persona, t: Any) -> Call:
    w.known_to_policy(w.self_id)
    line = json.dumps({"subject": w.self_id, "facts": {"household_size": 3}})
    return Call(
        query={"batch_id": unique("matrix")},
        content=line.encode(),
        headers={"Content-Type": "application/x-ndjson"},
        checks=plain("policy.bulk_facts"),
        listed=(
            "policy.bulk_facts",
            fact_subject(w.self_id, w.street_a),
            lambda answer: answer["applied"] == 1,
        ),
    )


@case("GET /v1/me/matches")
def _matches(w: World, p: Persona, t: Any) -> Call:
    return Call(checks=plain("policy.my_matches"))


@case("GET /v1/subjects/{subject}/matches")
def _subject_matches(w: World, p: Persona, t: Any) -> Call:
    w.known_to_policy(w.self_id)
    return Call(
        path={"subject": w.self_id},
        checks=[("policy.subject_matches", fact_subject(w.self_id, w.street_a))],
    )


@case("GET /v1/me/inbox")
def _inbox(w: World, p: Persona, t: Any) -> Call:
    return Call(checks=plain("policy.my_inbox"))


@case("POST /v1/payment-callbacks", allowed_answer=401)
def _callback(w: World, p: Persona, t: Any) -> Call:
    body = json.dumps({"payout_id": "x", "payment_id": "y", "status": "paid", "amount": 1})
    return Call(
        content=body.encode(),
        headers={"Content-Type": "application/json", "X-Signature": "t=1,v1=00"},
        checks=plain("policy.payment_callback"),
    )


# the supervision hub


@case("GET /v1/task-sources")
def _sources(w: World, p: Persona, t: Any) -> Call:
    return Call(checks=plain("tasks.list_sources"))


@case("POST /v1/task-sources", fresh=True)
def _add_source(w: World, p: Persona, t: Any) -> Call:
    code = "matrix_" + secrets.token_hex(3)
    return Call(json={"code": code, "name": "矩阵来源"}, checks=plain("tasks.add_source"))


@case("PATCH /v1/task-sources/{code}", lambda w: w.source())
def _edit_source(w: World, p: Persona, t: Any) -> Call:
    return Call(
        path={"code": t}, json={"name": "矩阵来源（改）"}, checks=plain("tasks.edit_source")
    )


def rule_of_street_a(w: World) -> str:
    made = w.call(
        "POST",
        "/v1/routing-rules",
        "sup.a",
        json={"match": {"category": unique("matrix")}, "unit": w.street_a},
    )
    return str(made["id"])


@case("GET /v1/routing-rules", rule_of_street_a)
def _routing_rules(w: World, p: Persona, t: Any) -> Call:
    return Call(
        checks=plain("tasks.list_routing_rules"),
        listed=(
            "tasks.list_routing_rules",
            owned("routing_rule", w.street_a),
            lambda answer: t in [r["id"] for r in answer],
        ),
    )


@case("POST /v1/routing-rules", fresh=True)
def _add_rule(w: World, p: Persona, t: Any) -> Call:
    body = {"match": {"category": unique("matrix")}, "unit": w.street_a}
    return Call(json=body, checks=[("tasks.add_routing_rule", unit(w.street_a))])


@case("DELETE /v1/routing-rules/{rule_id}", rule_of_street_a, fresh=True)
def _delete_rule(w: World, p: Persona, t: Any) -> Call:
    return Call(
        path={"rule_id": t},
        checks=[("tasks.delete_routing_rule", owned("routing_rule", w.street_a))],
    )


STEPS = {"steps": [{"card": "warning", "fraction": 0.5}, {"card": "yellow", "fraction": 1}]}


def ladder_of_street_a(w: World) -> str:
    rule_id = unique("matrix")
    w.call(
        "PUT",
        f"/v1/escalation-rules/{rule_id}",
        "sup.a",
        json={"match": {"level": "urgent"}, **STEPS},
    )
    return rule_id


@case("GET /v1/escalation-rules", ladder_of_street_a)
def _ladder_rules(w: World, p: Persona, t: Any) -> Call:
    return Call(
        checks=plain("tasks.list_ladder_rules"),
        listed=(
            "tasks.list_ladder_rules",
            owned("ladder_rule", w.street_a),
            lambda answer: t in [r["id"] for r in answer],
        ),
    )


@case("PUT /v1/escalation-rules/{rule_id}", fresh=True)
def _put_ladder(w: World, p: Persona, t: Any) -> Call:
    owner = p.actor.org_path if p.actor is not None else None
    return Call(
        path={"rule_id": unique("matrix")},
        json={"match": {"level": "urgent"}, **STEPS},
        checks=[("tasks.put_ladder_rule", owned("ladder_rule", owner))],
    )


@case("DELETE /v1/escalation-rules/{rule_id}", ladder_of_street_a, fresh=True)
def _delete_ladder(w: World, p: Persona, t: Any) -> Call:
    return Call(
        path={"rule_id": t},
        query={"owner": w.street_a},
        checks=[("tasks.delete_ladder_rule", owned("ladder_rule", w.street_a))],
    )


@case("GET /v1/calendar/{year}")
def _calendar(w: World, p: Persona, t: Any) -> Call:
    return Call(path={"year": "2099"}, checks=plain("tasks.get_calendar_year"))


@case("PUT /v1/calendar/{year}")
def _put_calendar(w: World, p: Persona, t: Any) -> Call:
    return Call(
        path={"year": "2099"},
        json={"holidays": ["2099-01-01"], "working_weekends": []},
        checks=plain("tasks.put_calendar_year"),
    )


@case("POST /v1/tasks", fresh=True)
def _create_task(w: World, p: Persona, t: Any) -> Call:
    body = {
        "title": "矩阵新任务",
        "category": "matrix",
        "jurisdiction": w.street_a,
        "external_id": unique("matrix"),
    }
    return Call(json=body, checks=[("tasks.create_task", unit(w.street_a))])


def hotline_task(w: World) -> dict[str, Any]:
    return w.make_task(by="partner.tasks")


@case("GET /v1/tasks", hotline_task)
def _tasks(w: World, p: Persona, t: Any) -> Call:
    resource = w.task_resource(t, creator=w.client_of("partner.tasks"))
    return Call(
        query={"limit": 200, "category": "matrix"},
        checks=plain("tasks.list_tasks"),
        listed=(
            "tasks.get_task",
            resource,
            lambda answer: t["id"] in [x["id"] for x in answer["items"]],
        ),
    )


def _task_read(op: str) -> Make:
    def make(w: World, p: Persona, t: Any) -> Call:
        path = {"task_id": t["id"]}
        if op == "tasks.task_attachment":
            path["attachment_id"] = t["attachments"][0]["id"]
        resource = w.task_resource(t, creator=w.client_of("partner.tasks"))
        return Call(path=path, checks=[(op, resource)])

    return make


case("GET /v1/tasks/{task_id}", hotline_task)(_task_read("tasks.get_task"))
case("GET /v1/tasks/{task_id}/history", hotline_task)(_task_read("tasks.task_history"))
case("GET /v1/tasks/{task_id}/attachments/{attachment_id}", hotline_task)(
    _task_read("tasks.task_attachment")
)


def task_in(state: str) -> Callable[[World], dict[str, Any]]:
    def make(w: World) -> dict[str, Any]:
        return w.make_task(state=state)

    return make


def _task_act(verb: str, body: Callable[[World], Any] | None = None) -> Make:
    def make(w: World, p: Persona, t: Any) -> Call:
        return Call(
            path={"task_id": t["id"]},
            json=body(w) if body else None,
            checks=[
                (
                    f"tasks.{verb}_task" if verb != "feedback" else "tasks.submit_feedback",
                    w.task_resource(t),
                )
            ],
        )

    return make


case("POST /v1/tasks/{task_id}/dispatch", task_in("created"), fresh=True)(
    _task_act("dispatch", lambda w: {"units": [w.street_a]})
)
case("POST /v1/tasks/{task_id}/accept", task_in("dispatched"), fresh=True)(_task_act("accept"))
case("POST /v1/tasks/{task_id}/start", task_in("accepted"), fresh=True)(_task_act("start"))
case("POST /v1/tasks/{task_id}/transfer", task_in("accepted"), fresh=True)(
    _task_act("transfer", lambda w: {"unit": w.below_a})
)
case("POST /v1/tasks/{task_id}/rollback", task_in("dispatched"), fresh=True)(
    _task_act("rollback", lambda w: {"reason_code": "not_ours", "reason": "不属本单位"})
)
case("POST /v1/tasks/{task_id}/feedback", task_in("in_progress"), fresh=True)(
    _task_act("feedback", lambda w: {"text": "已办结"})
)


@case("POST /v1/tasks/{task_id}/review", task_in("feedback_submitted"), fresh=True)
def _review_task(w: World, p: Persona, t: Any) -> Call:
    return Call(
        path={"task_id": t["id"]},
        json={"decision": "approve"},
        checks=[("tasks.review_feedback", w.task_resource(t))],
    )


case("POST /v1/tasks/{task_id}/urge", task_in("dispatched"), fresh=True)(
    _task_act("urge", lambda w: {"note": "请加快"})
)
case("POST /v1/tasks/{task_id}/reassign", task_in("dispatched"), fresh=True)(
    _task_act("reassign", lambda w: {"unit": w.street_b, "reason": "改派"})
)
case("POST /v1/tasks/{task_id}/close", task_in("created"), fresh=True)(
    _task_act("close", lambda w: {"reason": "重复"})
)


@case("GET /v1/me/task-notices")
def _notices(w: World, p: Persona, t: Any) -> Call:
    return Call(checks=plain("tasks.my_notices"))


@case("GET /v1/stats/units/{unit}")
def _stats(w: World, p: Persona, t: Any) -> Call:
    return Call(path={"unit": w.street_a}, checks=[("tasks.unit_stats", unit(w.street_a))])
