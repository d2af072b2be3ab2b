"""应享未享 (Hulan's civil-affairs warning): subjects eligible for a policy who receive
nothing, found without anyone pressing a button.

For a policy the subject must act on (``apply`` and ``push``: the platform knows who
qualifies, not who applied at the department), every subject found eligible, when the
policy is published or when a fact or a certificate makes one eligible later, becomes one
supervision task (source ``policy_unreceived``) in the queue of the policy's responsible
unit (``responsible_unit``: the department that administers it, the policy's own unit when
it names none), asked of the tasks service once per policy code and subject: the claim
commits the event. Subjects of policies that pay (``confirm``, ``auto``) are reached by the
payout run itself; those left unfunded or who declined are listed and counted apart, not
as unreceived.

Who reads the list: staff of the subject's area, and of the policy's owning or responsible
unit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.common import outbox
from services.common.document import Document
from services.policy import access, policies
from services.policy.store import PolicyStore
from services.policy.work import Work

SUBJECT_ACTS = ("apply", "push")  # modes where receiving needs the subject to act
APART = ("unfunded", "declined", "expired")  # eligible, reached, and still not receiving


def automatic(policy: Document) -> bool:
    """Whether eligibility alone opens a task (the subject must act to receive)."""
    return policy["mode"] in SUBJECT_ACTS


def responsible_unit(policy: Document) -> str | None:
    unit = policy.get("responsible_unit") or policy.get("org_path")
    return str(unit) if unit else None


def flag(
    store: PolicyStore,
    now: datetime,
    policy: Document,
    subject: str,
    org_path: str | None,
    amount: int | None,
) -> bool:
    """Ask for a task for ``subject``, eligible for ``policy``; True the first time for this
    policy code and subject."""
    key = f"unreceived:{policy['code']}:{subject}"
    event = outbox.Event(
        "policy_unreceived",
        f"policy_unreceived:{policy['code']}:{subject}",
        {
            "policy": policy["_id"],
            "code": policy["code"],
            "title": policy["title"],
            "subject": subject,
            "org_path": org_path,
            "responsible_unit": responsible_unit(policy),
            "amount": amount,
        },
    )
    return store.claim_committing(key, now, event)


def unreceived(work: Work, policy_id: str) -> dict[str, Any]:
    return _listed(work, policy_id)[1]


def _listed(work: Work, policy_id: str) -> tuple[Document, dict[str, Any]]:
    """The policy's eligible subjects the caller may see who receive nothing (``state``
    ``unreceived``: no payout of it in any period) or whose payout went unfunded, was
    declined or expired (each its own ``state``, counted apart)."""
    store, guard = work.store, work.guard
    policy = policies.get(store, policy_id)
    guard.see(access.policy(policy), "no such policy")
    states: dict[str, set[str]] = {}
    for payout in store.payouts_of(policy["code"], fields={"subject": 1, "status": 1}):
        states.setdefault(str(payout["subject"]), set()).add(str(payout["status"]))
    items = []
    for match in store.eligible_matches(policy["_id"]):
        held = states.get(str(match["subject"]), set())
        state = "unreceived" if not held else next((s for s in APART if held == {s}), None)
        if state is None:
            continue  # paid, offered or on its way in some period
        seen = access.eligible(match["subject"], match.get("org_path"), policy)
        if guard.allows(seen):
            items.append(
                {
                    "subject": match["subject"],
                    "org_path": match.get("org_path"),
                    "amount": match.get("amount"),
                    "state": state,
                }
            )
    items.sort(key=lambda r: str(r["subject"]))
    counts = {s: sum(1 for i in items if i["state"] == s) for s in ("unreceived", *APART)}
    answer = {
        "policy": policy["_id"],
        "responsible_unit": responsible_unit(policy),
        "counts": counts,
        "items": items,
    }
    return policy, answer


def open_tasks(work: Work, policy_id: str) -> dict[str, Any]:
    """The same tasks for subjects found before this ran by itself (a backfill): one per
    unreceived subject, never a second."""
    policy, listed = _listed(work, policy_id)
    found = [i for i in listed["items"] if i["state"] == "unreceived"]
    requested = sum(
        flag(work.store, work.now, policy, i["subject"], i["org_path"], i["amount"]) for i in found
    )
    return {
        "policy": policy["_id"],
        "eligible_unreceived": len(found),
        "tasks_requested": requested,
    }
