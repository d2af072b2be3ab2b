"""Fact correction (自主校正): a subject disputes a fact with a proposed value and evidence;
staff of its area review it (a supervision task, source ``policy_review``, is opened for
them); accepted, the fact changes with source ``correction`` and the subject is re-matched;
rejected, the reason is shown to the subject."""

from __future__ import annotations

import secrets
from typing import Any

from services.common import outbox
from services.common.codec import to_wire
from services.common.document import Document
from services.common.errors import Conflict, InvalidInput, NotFound
from services.common.text import text
from services.policy import access, fact_kinds, facts, provenance, rematch
from services.policy.work import Work


def view(correction: Document) -> dict[str, Any]:
    return to_wire(
        {
            "id": correction["_id"],
            **{k: v for k, v in correction.items() if k not in ("_id", "rev")},
        }
    )


def dispute(
    work: Work, subject: str | None, fact: str, proposed: Any, evidence: str
) -> dict[str, Any]:
    """The subject (or an operator, or a proxy with ``apply``) disputes a feed fact. A fact
    stated by identity or by a certificate is corrected where it is stated, not here."""
    store, guard, now = work.store, work.guard, work.now
    actor = guard.actor
    subject = subject or actor.subject_id
    document = store.load_facts(subject) if isinstance(subject, str) else None
    if document is None:
        raise NotFound("no such subject", field="subject")
    guard.require(access.subject(document), "no such subject", field="subject")
    facts.validate_values({fact: proposed}, field="proposed")
    if provenance.source_of(fact) != provenance.FEED:
        raise InvalidInput(
            f"{fact} is stated by {provenance.source_of(fact)}; ask there to correct it",
            field="fact",
            code="fact_source",
        )
    kind = fact_kinds.kind_of(store, fact)
    if kind is None:
        raise InvalidInput("no such fact", field="fact", code="unknown_fact")
    problem = fact_kinds.value_problem(kind, proposed)
    if problem:
        raise InvalidInput(problem, field="proposed", code="fact_value")
    evidence = str(text(evidence, "evidence", 2000, multiline=True))
    current = (document.get("values") or {}).get(fact) or {}
    correction = {
        "_id": "fc_" + secrets.token_hex(8),
        "subject": subject,
        "fact": fact,
        "current": current.get("value"),
        "current_source": current.get("source"),
        "proposed": proposed,
        "evidence": evidence,
        "status": "pending",
        "org_path": document.get("org_path"),
        "created_at": now,
        "by": actor.account_id,
        "proxy": actor.subject_id if actor.subject_id != subject else None,
        "rev": 0,
    }
    disputed = outbox.Event(
        "fact_disputed",
        f"fact_disputed:{correction['_id']}",
        {
            "correction_id": correction["_id"],
            "subject": subject,
            "fact": fact,
            "org_path": correction["org_path"],
        },
    )
    store.insert_correction(correction, now, disputed)
    return view(correction)


def decide(work: Work, correction_id: str, accept: bool, reason: str | None) -> dict[str, Any]:
    """The correction decided, with the codes of policies newly pushed to the subject
    (``pushed``)."""
    store, guard, now = work.store, work.guard, work.now
    actor = guard.actor
    found = store.load_correction(correction_id) if isinstance(correction_id, str) else None
    if found is None:
        raise NotFound("no such fact correction")
    guard.require(access.correction(found), "no such fact correction")
    if found["status"] != "pending":
        raise Conflict(f"this correction was already {found['status']}", state=found["status"])
    if not accept and (not isinstance(reason, str) or not reason.strip()):
        raise InvalidInput("a rejection says why", field="reason")
    status = "accepted" if accept else "rejected"
    told = outbox.Event(
        "fact_correction_decided",
        f"fact_correction_decided:{found['_id']}",
        {"correction_id": found["_id"], "status": status, "reason": reason},
    )
    decision = {
        "status": status,
        "reason": reason,
        "decided_at": now,
        "decided_by": actor.account_id,
    }
    decided = store.advance_correction(found, {"$set": decision}, now, [told])
    pushed: list[str] = []
    if accept:
        _doc, changed = facts.put_facts(
            store, now, found["subject"], {found["fact"]: found["proposed"]}, "correction"
        )
        pushed = rematch.rematch_subject(store, now, found["subject"], changed)
    return {**view(decided), "pushed": pushed}


def mine(work: Work) -> list[dict[str, Any]]:
    """The corrections of the subjects the caller is (or acts for)."""
    return [view(c) for c in work.store.corrections_of(work.guard.mine(), 100)]
