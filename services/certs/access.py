"""Who may do what in certs: one rule per RPC, and how each resource kind is seen.

The issuing department (an issuer's org unit, and the units above it) acts on the
certificates it issued; staff of the holder's area read them; the holder, whoever the holder
delegated ``show_certificates`` to, and an organisation's operators hold them. An issuer
issues only to subjects of its area (the unit its department serves). The doctor's assessment
of an application is signed by an assessor's account bound to the issuing department: not by
its clerks, not by a doctor of another department.
"""

from __future__ import annotations

from services.common.access import (
    ADMIN,
    ASSESSOR,
    DEPARTMENT,
    EVERY_ROLE,
    HOLDER,
    JURISDICTION,
    OPERATOR,
    PEOPLE,
    PRINCIPAL_KIND,
    PROXY,
    SELF,
    SIGNED_IN,
    STAFF,
    AccessTable,
    Kind,
    Relation,
    Resource,
    Rule,
)
from services.common.actor import within
from services.common.document import Document

IN_AREA = Relation(
    "in_issuer_area",
    lambda ask: (
        bool(ask.resource.units)
        and all(within(u, ask.resource.extra["area"]) for u in ask.resource.units)
    ),
    "the holder lies in the area the issuer serves",
)
ISSUER_STAFF = (DEPARTMENT, ADMIN)
SHOWN = "show_certificates"

RULES = {
    # The gateway's readiness, and the container's own probe (services.common.probe).
    "health": Rule(
        "Read the service's health", roles=STAFF, services=frozenset({"gateway", "certs"})
    ),
    "list_types": Rule("Read the certificate catalogue", roles=EVERY_ROLE),
    "create_issuer": Rule("Register an issuing department", roles=frozenset({"admin"})),
    "list_issuers": Rule("List issuers and their key ids", anyone=True),
    "issuer_keys": Rule("Read the issuers' public keys", anyone=True),
    "issue_certificate": Rule(
        "Issue a certificate for one's issuing department",
        roles=STAFF,
        relations=ISSUER_STAFF,
        resource="issuer",
    ),
    "amend_certificate": Rule(
        "Amend a certificate one's department issued",
        roles=STAFF,
        relations=ISSUER_STAFF,
        resource="certificate",
    ),
    "certificates_of": Rule(
        "List a subject's certificates",
        roles=STAFF,
        relations=(JURISDICTION, DEPARTMENT, ADMIN),
        resource="certificate",
    ),
    "certificate_versions": Rule(
        "Read every version of a certificate",
        roles=STAFF,
        relations=(JURISDICTION, DEPARTMENT, ADMIN),
        resource="certificate",
    ),
    "change_status": Rule(
        "Suspend, resume or revoke a certificate one's department issued",
        roles=STAFF,
        relations=ISSUER_STAFF,
        resource="certificate",
    ),
    "apply_for_certificate": Rule(
        "Apply for a disability certificate, for oneself or for a person one acts for",
        roles=frozenset({"citizen"}),
        relations=(SELF, PROXY),
        resource="principal",
        scope="apply",
    ),
    "file_application": Rule(
        "File an application for a resident of one's area (后台录入)",
        roles=STAFF,
        relations=(JURISDICTION, ADMIN),
        resource="applicant",
    ),
    "list_applications": Rule(
        "List the applications of one's area or issuing department (the work queue)",
        roles=STAFF | {"assessor"},
        relations=(JURISDICTION, DEPARTMENT, ASSESSOR, ADMIN),
        resource="application",
    ),
    "review_application": Rule(
        "Review an application of one's area",
        roles=STAFF,
        relations=(JURISDICTION, ADMIN),
        resource="application",
    ),
    "assess_application": Rule(
        "Sign the assessment of an application, as a doctor assessing for the department",
        roles=frozenset({"assessor"}),
        relations=(ASSESSOR,),
        resource="application",
    ),
    "issue_from_application": Rule(
        "Issue the certificate an assessed application asks for",
        roles=STAFF,
        relations=ISSUER_STAFF,
        resource="application",
    ),
    "my_applications": Rule(
        "List one's applications and those of whom one applies for",
        roles=PEOPLE,
        relations=(SELF, PROXY),
        resource="application",
        scope="apply",
    ),
    "get_application": Rule(
        "Read an application",
        roles=EVERY_ROLE - {"partner", "verifier"},
        relations=(SELF, PROXY, JURISDICTION, DEPARTMENT, ASSESSOR, ADMIN),
        resource="application",
        scope="apply",
    ),
    "my_certificates": Rule(
        "List the certificates one holds",
        roles=PEOPLE,
        relations=HOLDER,
        resource="certificate",
        scope=SHOWN,
    ),
    "my_certificate_card": Rule(
        "Print a certificate one holds as a card",
        roles=PEOPLE,
        relations=HOLDER,
        resource="certificate",
        scope=SHOWN,
    ),
    "create_presentation": Rule(
        "Show chosen fields of certificates one holds",
        roles=PEOPLE,
        relations=HOLDER,
        resource="certificate",
        scope=SHOWN,
    ),
    "revoke_presentation": Rule(
        "Withdraw a presentation one made",
        roles=PEOPLE,
        relations=(SELF,),
        resource="presentation",
    ),
    "verify_presentation": Rule(
        "Check a presentation shown to one (recorded for the holder)",
        roles=frozenset({"verifier", "partner"}),
        client_scope="certs:verify",
    ),
    "my_disclosures": Rule(
        "Read who saw which fields of one's certificates",
        roles=PEOPLE,
        relations=(SELF, OPERATOR),
        resource="certificate",
    ),
    "disclosure_stats": Rule(
        "Count disclosures of one's department's certificates",
        roles=STAFF,
        relations=ISSUER_STAFF,
        resource="issuer",
    ),
    "public_check": Rule("Check that a certificate is authentic and current", anyone=True),
    "status_list": Rule("Read an issuer's status list", anyone=True),
}

KINDS = {
    "principal": PRINCIPAL_KIND,
    "issuer": Kind("issuer", visible=(SIGNED_IN, DEPARTMENT, ADMIN)),
    "holder": Kind("holder", visible=(IN_AREA, ADMIN)),
    "certificate": Kind(
        "certificate",
        visible=(SELF, PROXY, OPERATOR, JURISDICTION, DEPARTMENT, ADMIN),
        scope=SHOWN,
    ),
    "application": Kind(
        "application",
        visible=(SELF, PROXY, JURISDICTION, DEPARTMENT, ASSESSOR, ADMIN),
        scope="apply",
    ),
    "presentation": Kind("presentation", visible=(SELF,)),
    "applicant": Kind("applicant", visible=(JURISDICTION, ADMIN)),
}

TABLE = AccessTable("certs", RULES, KINDS)


def area_of(issuer: Document) -> str:
    """The unit an issuer serves: its own, or for a department, the unit it belongs to
    (和平区残联 serves 和平区)."""
    if issuer.get("area"):
        return str(issuer["area"])
    path = str(issuer["org_path"])
    return path.rsplit("/", 1)[0] if "/" in path else path


def issuer(document: Document) -> Resource:
    return Resource("issuer", owners=(document["org_path"],), public=True)


def holder(subject: dict[str, object], issuer_document: Document) -> Resource:
    """The subject a certificate is issued to, as its issuer sees it."""
    return Resource(
        "holder",
        subject=str(subject["id"]),
        units=(str(subject["org_path"]),),
        owners=(issuer_document["org_path"],),
        extra={"area": area_of(issuer_document)},
    )


def certificate(document: Document, issuer_unit: str | None) -> Resource:
    unit = document.get("holder_unit")
    return Resource(
        "certificate",
        subject=document["subject"],
        units=(unit,) if unit else (),
        owners=(issuer_unit,) if issuer_unit else (),
    )


def application(document: Document, issuer_units: tuple[str, ...]) -> Resource:
    return Resource(
        "application",
        subject=document["applicant"],
        units=(document["org_path"],),
        owners=issuer_units,
    )


def presentation(document: Document) -> Resource:
    return Resource("presentation", subject=document.get("holder"), account=document.get("account"))


def applicant(brief: dict[str, object]) -> Resource:
    """A person applied for at the counter, as the clerk's jurisdiction sees them."""
    return Resource("applicant", subject=str(brief["id"]), units=(str(brief["org_path"]),))
