"""Who may do what in identity: one rule per RPC, and how each resource kind is seen.

The shape is :mod:`services.common.access`; the README's table is printed from it.
"""

from __future__ import annotations

from services.common.access import (
    ADMIN,
    AGENT,
    EVERY_ROLE,
    HOLDER,
    JURISDICTION,
    LINEAGE,
    OPERATOR,
    PEOPLE,
    PRINCIPAL_KIND,
    PROXY,
    SCENE,
    SELF,
    SIGNED_IN,
    STAFF,
    AccessTable,
    Kind,
    Relation,
    Resource,
    Rule,
)
from services.common.document import Document

PRINCIPAL = Relation(
    "principal",
    lambda ask: (
        ask.actor.subject_id == ask.resource.subject and ask.resource.extra.get("kind") == "proxy"
    ),
    "the person who gave a proxy (not a person under guardianship)",
)
SUPERVISORS = frozenset({"supervisor", "admin"})
SERVICES = frozenset({"certs", "policy", "tasks"})
OVER_UNIT = (JURISDICTION, ADMIN)

RULES = {
    # The gateway's readiness, and the container's own probe (services.common.probe).
    "health": Rule(
        "Read the service's health", roles=STAFF, services=frozenset({"gateway", "identity"})
    ),
    # accounts
    "authenticate": Rule("Log in with a password", services=frozenset({"gateway"})),
    "links_for": Rule(
        "Read what the caller holds through others (operated organisations, delegations)",
        services=SERVICES | {"gateway"},
    ),
    "create_account": Rule(
        "Create an account in an org unit",
        roles=STAFF,
        relations=OVER_UNIT,
        resource="org_unit",
    ),
    "get_account": Rule(
        "Read an account",
        roles=EVERY_ROLE,
        relations=(SELF, JURISDICTION, ADMIN),
        resource="account",
    ),
    "list_accounts": Rule(
        "List the accounts of an org unit's subtree",
        roles=STAFF,
        relations=OVER_UNIT,
        resource="org_unit",
    ),
    "set_account_status": Rule(
        "Disable or enable an account",
        roles=STAFF,
        relations=OVER_UNIT,
        resource="account",
    ),
    "change_password": Rule("Change one's own password", roles=EVERY_ROLE - {"partner"}),
    "reset_password": Rule(
        "Set a new password for an account",
        roles=frozenset({"admin"}),
        relations=(ADMIN,),
        resource="account",
    ),
    # the jurisdiction tree
    "create_org_unit": Rule(
        "Add an org unit below another",
        roles=SUPERVISORS,
        relations=OVER_UNIT,
        resource="org_unit",
    ),
    "get_org_unit": Rule(
        "Read an org unit",
        roles=EVERY_ROLE,
        relations=(JURISDICTION, LINEAGE, ADMIN),
        resource="org_unit",
        services=SERVICES,
    ),
    "list_org_units": Rule(
        "List an org unit's subtree", roles=STAFF, relations=OVER_UNIT, resource="org_unit"
    ),
    "find_org_units": Rule("Find org units by name within one's jurisdiction", roles=STAFF),
    # subjects
    "register_person": Rule(
        "Register a person in an org unit",
        roles=STAFF,
        relations=OVER_UNIT,
        resource="org_unit",
    ),
    "register_organisation": Rule(
        "Register an organisation in an org unit",
        roles=STAFF,
        relations=OVER_UNIT,
        resource="org_unit",
    ),
    "subject_profiles": Rule(
        "List subjects' profiles (kind, org unit, birth date)", services=frozenset({"policy"})
    ),
    "subject_brief": Rule(
        "Read that a subject exists, its kind, name, status and org unit", services=SERVICES
    ),
    "get_subject": Rule(
        "Read a person or an organisation (masked)",
        roles=STAFF,
        relations=OVER_UNIT,
        resource="subject",
    ),
    "list_persons": Rule(
        "List the persons of an org unit's subtree",
        roles=STAFF,
        relations=OVER_UNIT,
        resource="org_unit",
    ),
    "add_operator": Rule(
        "Link an enterprise account to an organisation",
        roles=STAFF,
        relations=OVER_UNIT,
        resource="subject",
    ),
    "my_organisations": Rule("List the organisations one operates", roles=EVERY_ROLE),
    "freeze_subject": Rule(
        "Freeze a subject's codes", roles=STAFF, relations=OVER_UNIT, resource="subject"
    ),
    "unfreeze_subject": Rule(
        "Lift a staff freeze", roles=STAFF, relations=OVER_UNIT, resource="subject"
    ),
    "freeze_my_code": Rule("Freeze one's own code", roles=frozenset({"citizen"})),
    "unfreeze_my_code": Rule("Unfreeze one's own code", roles=frozenset({"citizen"})),
    # codes and scans
    "issue_code": Rule(
        "Get a fresh code for oneself, a person one acts for, or an organisation one operates",
        roles=PEOPLE,
        relations=HOLDER,
        resource="subject",
        scope="show_code",
    ),
    "verify_code": Rule(
        "Check a scanned code for a scene",
        roles=frozenset({"verifier"}),
        relations=(SCENE,),
        resource="scene",
    ),
    "code_jwks": Rule("Read the public keys that sign codes and printed cards", anyone=True),
    "printed_status_list": Rule(
        "Read the printed cards' status list (revoked, suspended)", anyone=True
    ),
    "rotate_code_key": Rule("Rotate the code-signing key", roles=frozenset({"admin"})),
    "rotate_card_key": Rule(
        "Rotate the key that signs printed cards and their status list",
        roles=frozenset({"admin"}),
    ),
    "list_my_scans": Rule(
        "List who scanned one's code, or the code of an organisation one operates",
        roles=PEOPLE,
        relations=(SELF, OPERATOR),
        resource="subject",
    ),
    "upload_scan_logs": Rule(
        "Upload the scans a terminal made offline (each for a scene it is registered for)",
        roles=frozenset({"verifier"}),
    ),
    "issue_printed_code": Rule(
        "Issue a printed code", roles=STAFF, relations=OVER_UNIT, resource="subject"
    ),
    "get_printed_code": Rule(
        "Read a person's printed code for reprinting",
        roles=STAFF,
        relations=OVER_UNIT,
        resource="subject",
    ),
    # proxies and guardians
    "authorize_proxy": Rule("Ask someone to act for oneself", roles=frozenset({"citizen"})),
    "answer_proxy_request": Rule(
        "Accept or decline acting for someone",
        roles=frozenset({"citizen"}),
        relations=(AGENT,),
        resource="delegation",
    ),
    "appoint_guardian": Rule(
        "Appoint a guardian for a person", roles=STAFF, relations=OVER_UNIT, resource="subject"
    ),
    "revoke_delegation": Rule(
        "End a proxy or a guardianship",
        roles=EVERY_ROLE - {"partner", "verifier"},
        relations=(PRINCIPAL, AGENT, JURISDICTION, ADMIN),
        resource="delegation",
    ),
    "list_my_delegations": Rule("List one's proxies and whom one acts for", roles=PEOPLE),
    "my_activity": Rule("Read what was done in one's name", roles=PEOPLE),
}

KINDS = {
    "principal": PRINCIPAL_KIND,
    "account": Kind("account", visible=(SELF, JURISDICTION, ADMIN)),
    "org_unit": Kind("org_unit", visible=(JURISDICTION, LINEAGE, ADMIN)),
    "subject": Kind("subject", visible=(SELF, PROXY, OPERATOR, JURISDICTION, ADMIN)),
    "delegation": Kind("delegation", visible=(SELF, AGENT, JURISDICTION, ADMIN)),
    "scene": Kind("scene", visible=(SIGNED_IN,)),
}

TABLE = AccessTable("identity", RULES, KINDS)


def account(document: Document) -> Resource:
    org = document.get("org_path")
    return Resource("account", account=document["_id"], units=(org,) if org else ())


def org_unit(path: str) -> Resource:
    return Resource("org_unit", units=(path,))


def org_unit_or_root(path: str | None) -> Resource:
    """An org unit, or (None) the whole tree above every unit: an administrator's."""
    return Resource("org_unit", units=(path,) if path else ())


def subject(document: Document) -> Resource:
    return Resource("subject", subject=document["_id"], units=(document["org_path"],))


def delegation(document: Document, principal_unit: str | None) -> Resource:
    """Seen by both parties and staff over the principal; a proxy is ended by either party,
    a guardianship by the guardian or staff, not by the person under guardianship."""
    return Resource(
        "delegation",
        subject=document["principal"],
        parties=(document["proxy"],) if document.get("proxy") else (),
        units=(principal_unit,) if principal_unit else (),
        extra={"kind": document["kind"]},
    )


def scene(name: str) -> Resource:
    """Scenes are no secret: a terminal not registered for one is refused (403)."""
    return Resource("scene", scene=name, public=True)
