"""Fact correction (自主校正): a subject disputes a fact with a proposed value and evidence;
staff of its area review it (a supervision task, source ``policy_review``, is opened for
them); accepted, the fact changes with source ``correction`` and the subject is re-matched;
rejected, the reason is shown to the subject."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from pymongo.database import Database

from services.common.actor import Actor
from services.common.claims import advance
from services.common.codec import to_wire
from services.common.errors import Conflict, InvalidInput, NotFound
from services.common.mongo import Document
from services.common.text import text
from services.policy import facts, rematch


def view(correction: Document) -> dict[str, Any]:
    return to_wire(
        {
            "id": correction["_id"],
            **{k: v for k, v in correction.items() if k not in ("_id", "rev")},
        }
    )


def dispute(
    db: Database[Document],
    actor: Actor,
    now: datetime,
    subjects: list[str],
    subject: str,
    fact: str,
    proposed: Any,
    evidence: str,
) -> Document:
    if subject not in subjects:
        raise NotFound("no such subject", field="subject")
    facts.validate_values({fact: proposed}, field="proposed")
    evidence = str(text(evidence, "evidence", 2000, multiline=True))
    document = db.facts.find_one({"_id": subject})
    if document is None:
        raise NotFound("no such subject", field="subject")
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
    db.corrections.insert_one(correction)
    return correction


def decide(
    db: Database[Document],
    actor: Actor,
    now: datetime,
    correction_id: str,
    accept: bool,
    reason: str | None,
) -> tuple[Document, list[str]]:
    """Returns the correction and the codes of policies newly pushed to the subject."""
    actor.require_role("staff", "supervisor", "admin")
    found = (
        db.corrections.find_one({"_id": correction_id}) if isinstance(correction_id, str) else None
    )
    if found is None or not actor.reaches(found.get("org_path")):
        raise NotFound("no such fact correction")
    if found["status"] != "pending":
        raise Conflict(f"this correction was already {found['status']}", state=found["status"])
    if not accept and (not isinstance(reason, str) or not reason.strip()):
        raise InvalidInput("a rejection says why", field="reason")
    decided = advance(
        db,
        "corrections",
        found,
        {
            "$set": {
                "status": "accepted" if accept else "rejected",
                "reason": reason,
                "decided_at": now,
                "decided_by": actor.account_id,
            }
        },
        now,
    )
    pushed: list[str] = []
    if accept:
        _doc, changed = facts.put_facts(
            db, now, found["subject"], {found["fact"]: found["proposed"]}, "correction"
        )
        pushed = rematch.rematch_subject(db, now, found["subject"], changed)
    return decided, pushed


def mine(db: Database[Document], subjects: list[str]) -> list[dict[str, Any]]:
    found = db.corrections.find({"subject": {"$in": subjects}}).sort("created_at", -1)
    return [view(c) for c in found.limit(100)]


def unreceived(db: Database[Document], actor: Actor, policy: Document) -> list[dict[str, Any]]:
    """应享未享 (Hulan): subjects in the actor's area eligible for the policy with no payout of
    it in any period."""
    paid_or_offered = {
        p["subject"] for p in db.payouts.find({"code": policy["code"]}, {"subject": 1})
    }
    result = []
    for match in db.matches.find({"policy": policy["_id"], "eligible": "yes"}):
        if match["subject"] in paid_or_offered:
            continue
        if actor.reaches(match.get("org_path")):
            result.append(
                {
                    "subject": match["subject"],
                    "org_path": match.get("org_path"),
                    "amount": match.get("amount"),
                }
            )
    return sorted(result, key=lambda r: str(r["subject"]))
