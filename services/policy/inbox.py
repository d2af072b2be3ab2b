"""The inbox of pushed policies (政策推送): a subject newly eligible for a push, confirm or
auto policy gets one message per policy version, never two (the message id is the policy
version and the subject).

Push on change only: a new version messages (and texts) a subject only when its eligibility
or its amount changed since the last message of that policy, and never one whose payout of
the current period is already settled (paid, on its way, offered or declined). A payout the
budget could not fund is told once (``unfunded``): it will be paid when money appears.

A new message also causes a ``policy_pushed`` event, staged in the outbox and committed by
the message's own insert (so a crash loses neither): identity, which holds the phone
number, texts the subject (naming the enterprise when the subject is one). At least once:
identity keys the text by the message id, and so does the SMS partner."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.common import outbox
from services.common.codec import to_wire
from services.common.document import Document
from services.policy import periods
from services.policy.store import PolicyStore
from services.policy.work import Work

PUSHED_MODES = ("push", "confirm", "auto")
SETTLED = ("paid", "disbursing", "offered", "confirmed", "declined", "failed")


def push(
    store: PolicyStore, now: datetime, policy: Document, subject: str, amount: int | None
) -> bool:
    """True when the message is new."""
    if policy["mode"] not in PUSHED_MODES or not _news_for(store, now, policy, subject, amount):
        return False
    message = _message(policy, subject, amount, now, "pushed", f"v{policy['version']}")
    if not _deliver(store, now, message):
        return False
    mark = {"code": policy["code"], "version": policy["version"], "amount": amount}
    store.put_push_mark({"_id": _mark_id(policy, subject), **mark})
    return True


def tell(store: PolicyStore, now: datetime, policy: Document, payout: Document, kind: str) -> bool:
    """Tell the subject, once per payout and ``kind``, what became of it: ``unfunded`` (the
    budget did not cover it this time) or ``offered`` (funded later: confirm it in time)."""
    message = _message(policy, payout["subject"], payout["amount"], now, kind, payout["period"])
    return _deliver(store, now, message)


def _news_for(
    store: PolicyStore, now: datetime, policy: Document, subject: str, amount: int | None
) -> bool:
    """Whether this version has news for ``subject``: it was not messaged about this policy
    with this amount before, and its payout of the current period is not settled."""
    mark = store.push_mark(_mark_id(policy, subject))
    if mark is not None and mark["version"] < policy["version"] and mark["amount"] == amount:
        return False
    if policy["mode"] == "push":
        return True
    payout_id = f"{policy['code']}:{periods.current(policy, now)}:{subject}"
    payout = store.load_payout(payout_id, {"status": 1})
    return payout is None or payout["status"] not in SETTLED


def _mark_id(policy: Document, subject: str) -> str:
    return f"{policy['code']}:{subject}"


def _message(
    policy: Document, subject: str, amount: int | None, now: datetime, kind: str, about: str
) -> Document:
    return {
        "_id": f"{policy['code']}:{about}:{subject}"
        if kind == "pushed"
        else f"{policy['code']}:{about}:{subject}:{kind}",
        "kind": kind,
        "subject": subject,
        "policy": policy["_id"],
        "code": policy["code"],
        "version": policy["version"],
        "title": policy["title"],
        "department": policy["department"],
        "mode": policy["mode"],
        "amount": amount,
        "at": now,
        "read": False,
    }


def _deliver(store: PolicyStore, now: datetime, message: Document) -> bool:
    """Insert the message, committing its ``policy_pushed`` event; False if it was there."""
    pushed = outbox.Event("policy_pushed", f"policy_pushed:{message['_id']}", notice(message))
    return store.deliver_message(message, now, pushed)


def messages_for(work: Work, limit: int = 50) -> list[dict[str, Any]]:
    """The inbox of the subjects the caller is (or acts for)."""
    found = work.store.messages_for(work.guard.mine(), limit)
    hidden = ("_id", "request_id", "notify")  # (fields of messages kept before the outbox)
    return [to_wire({"id": m["_id"], **{k: m[k] for k in m if k not in hidden}}) for m in found]


def notice(message: Document) -> dict[str, Any]:
    """What identity needs to text the subject (no personal data: identity has it)."""
    fields = ("subject", "title", "department", "mode", "amount")
    return to_wire(
        {
            "message_id": message["_id"],
            "kind": message.get("kind", "pushed"),
            **{k: message[k] for k in fields},
        }
    )
