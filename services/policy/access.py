"""Who may do what in policy: one rule per RPC, and how each resource kind is seen.

A policy belongs to the unit that authored it (its department): only that unit, or one above
it, edits, publishes, suspends, retires, simulates and pays it out; a published policy is
public to everyone signed in, a draft only to its owner. Facts about a subject are written by
staff of the subject's area or by a partner feed whose area holds the subject (and each fact
only by its declared source: :mod:`services.policy.provenance`). Payouts are confirmed by the
subject, an operator of the organisation, or a proxy holding ``confirm_payouts``; auditors
(审计) read the ledgers of the policies owned in their unit and the payouts with their
decision records of the subjects in it, and change nothing.
"""

from __future__ import annotations

from services.common.access import (
    ADMIN,
    AUDITOR,
    DEPARTMENT,
    EVERY_ROLE,
    JURISDICTION,
    OPERATOR,
    PARTNER_AREA,
    PEOPLE,
    PROXY,
    SELF,
    SIGNED_IN,
    STAFF,
    AccessTable,
    Kind,
    Resource,
    Rule,
)
from services.common.document import Document

OWNER = (DEPARTMENT, ADMIN)
AREA = (JURISDICTION, ADMIN)
HELD = (SELF, OPERATOR, PROXY)
FEEDERS = STAFF | {"partner"}

RULES = {
    # The gateway's readiness, and the container's own probe (services.common.probe).
    "health": Rule(
        "Read the service's health", roles=STAFF, services=frozenset({"gateway", "policy"})
    ),
    "payment_callback": Rule(
        "Report a payment's outcome (the partner's signature is checked)",
        services=frozenset({"gateway"}),
    ),
    "run_payouts": Rule(
        "Pay a policy out for a period", roles=STAFF, relations=OWNER, resource="policy"
    ),
    "policy_ledger": Rule(
        "Read a policy's payout ledger",
        roles=STAFF | {"auditor"},
        relations=(*OWNER, AUDITOR),
        resource="policy",
    ),
    "policy_payouts": Rule(
        "List a policy's payouts with their decision records (who was and was not paid)",
        roles=STAFF | {"auditor"},
        relations=(JURISDICTION, DEPARTMENT, AUDITOR, ADMIN),
        resource="payout",
    ),
    "my_payouts": Rule(
        "List one's payouts and those of whom one confirms payouts for",
        roles=PEOPLE,
        relations=HELD,
        resource="payout",
        scope="confirm_payouts",
    ),
    "respond_to_payout": Rule(
        "Confirm or decline a payout offered",
        roles=PEOPLE,
        relations=HELD,
        resource="payout",
        scope="confirm_payouts",
    ),
    "create_policy": Rule("Author a policy for one's unit", roles=STAFF),
    "list_fact_kinds": Rule(
        "List the fact kinds policies read and feeds write",
        roles=FEEDERS,
        client_scope="facts:write",
    ),
    "declare_fact_kind": Rule("Declare a feed fact kind, owned by one's unit", roles=STAFF),
    "edit_policy": Rule("Edit a draft policy", roles=STAFF, relations=OWNER, resource="policy"),
    "get_policy": Rule(
        "Read a policy", roles=EVERY_ROLE, relations=(SIGNED_IN, *OWNER), resource="policy"
    ),
    "list_policies": Rule(
        "List policies", roles=EVERY_ROLE, relations=(SIGNED_IN, *OWNER), resource="policy"
    ),
    "change_policy_status": Rule(
        "Publish, suspend, resume or retire a policy",
        roles=STAFF,
        relations=OWNER,
        resource="policy",
    ),
    "simulate_policy": Rule("Simulate a policy", roles=STAFF, relations=OWNER, resource="policy"),
    "put_facts": Rule(
        "Set facts about a subject",
        roles=FEEDERS,
        relations=(JURISDICTION, PARTNER_AREA, ADMIN),
        resource="subject",
        client_scope="facts:write",
    ),
    "bulk_facts": Rule(
        "Feed facts about many subjects (NDJSON)",
        roles=FEEDERS,
        relations=(JURISDICTION, PARTNER_AREA, ADMIN),
        resource="subject",
        client_scope="facts:write",
    ),
    "subject_facts": Rule(
        "Read a subject's facts", roles=STAFF, relations=AREA, resource="subject"
    ),
    "my_matches": Rule(
        "Read one's matches", roles=PEOPLE, relations=HELD, resource="subject", scope="apply"
    ),
    "subject_matches": Rule(
        "Read a subject's matches", roles=STAFF, relations=AREA, resource="subject"
    ),
    "my_inbox": Rule(
        "Read the policies pushed to one",
        roles=PEOPLE,
        relations=HELD,
        resource="subject",
        scope="apply",
    ),
    "dispute_fact": Rule(
        "Dispute a fact about oneself (or whom one applies for)",
        roles=PEOPLE,
        relations=HELD,
        resource="subject",
        scope="apply",
    ),
    "my_fact_corrections": Rule(
        "List one's disputed facts",
        roles=PEOPLE,
        relations=HELD,
        resource="subject",
        scope="apply",
    ),
    "decide_fact_correction": Rule(
        "Accept or reject a disputed fact of one's area",
        roles=STAFF,
        relations=AREA,
        resource="correction",
    ),
    "unreceived": Rule(
        "List who is eligible but not receiving",
        roles=STAFF,
        relations=(JURISDICTION, DEPARTMENT, ADMIN),
        resource="eligible",
    ),
    "open_unreceived_tasks": Rule(
        "Open supervision tasks for who is eligible but not receiving",
        roles=STAFF,
        relations=(JURISDICTION, DEPARTMENT, ADMIN),
        resource="eligible",
    ),
}

KINDS = {
    "policy": Kind("policy", visible=(SIGNED_IN, DEPARTMENT, ADMIN)),
    "subject": Kind("subject", visible=(SELF, OPERATOR, PROXY, JURISDICTION, PARTNER_AREA, ADMIN)),
    "payout": Kind(
        "payout",
        visible=(SELF, OPERATOR, PROXY, JURISDICTION, DEPARTMENT, AUDITOR, ADMIN),
        scope="confirm_payouts",
    ),
    "correction": Kind("correction", visible=(SELF, OPERATOR, PROXY, JURISDICTION, ADMIN)),
    "eligible": Kind("eligible", visible=(JURISDICTION, DEPARTMENT, ADMIN)),
}

TABLE = AccessTable("policy", RULES, KINDS)


def policy(document: Document) -> Resource:
    """A draft is its owner's work in progress; anything else is public to those signed in."""
    owner = document.get("org_path")
    return Resource(
        "policy", owners=(owner,) if owner else (), public=document["status"] != "draft"
    )


def subject(document: Document) -> Resource:
    unit = document.get("org_path")
    return Resource("subject", subject=document["_id"], units=(unit,) if unit else ())


def payout(document: Document, owner: str | None) -> Resource:
    unit = document.get("org_path")
    return Resource(
        "payout",
        subject=document["subject"],
        units=(unit,) if unit else (),
        owners=(owner,) if owner else (),
    )


def correction(document: Document) -> Resource:
    unit = document.get("org_path")
    return Resource("correction", subject=document["subject"], units=(unit,) if unit else ())


def eligible(subject_id: str, unit: str | None, policy_document: Document) -> Resource:
    """A subject eligible for a policy: seen by staff of its area, and of the policy's owning
    and responsible units (the department told of who is not receiving)."""
    owners = {policy_document.get("org_path"), policy_document.get("responsible_unit")}
    return Resource(
        "eligible",
        subject=subject_id,
        units=(unit,) if unit else (),
        owners=tuple(sorted(o for o in owners if o)),
    )
