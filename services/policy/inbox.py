"""The inbox of pushed policies (政策推送): a subject newly eligible for a push, confirm or
auto policy gets one message per policy version, never two (the message id is the policy
version and the subject).

A new message also causes a ``policy_pushed`` event, staged in the outbox and committed by
the message's own insert (so a crash loses neither): identity, which holds the phone
number, texts the subject. At least once: identity keys the text by the message id, and so
does the SMS partner."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from services.common import outbox
from services.common.codec import to_wire
from services.common.mongo import Document

PUSHED_MODES = ("push", "confirm", "auto")


def push(
    db: Database[Document], now: datetime, policy: Document, subject: str, amount: int | None
) -> bool:
    """True when the message is new."""
    if policy["mode"] not in PUSHED_MODES:
        return False
    message = {
        "_id": f"{policy['code']}:v{policy['version']}:{subject}",
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
    pushed = outbox.Event("policy_pushed", f"policy_pushed:{message['_id']}", notice(message))
    outbox.stage(db, now, outbox.Commit("inbox", message["_id"]), pushed)
    try:
        db.inbox.insert_one(message)
    except DuplicateKeyError:
        return False
    return True


def messages_for(
    db: Database[Document], subjects: list[str], limit: int = 50
) -> list[dict[str, Any]]:
    found = db.inbox.find({"subject": {"$in": subjects}}).sort("at", -1).limit(limit)
    hidden = ("_id", "request_id", "notify")  # (fields of messages kept before the outbox)
    return [to_wire({"id": m["_id"], **{k: m[k] for k in m if k not in hidden}}) for m in found]


def notice(message: Document) -> dict[str, Any]:
    """What identity needs to text the subject (no personal data: identity has it)."""
    fields = ("subject", "title", "department", "mode", "amount")
    return to_wire({"message_id": message["_id"], **{k: message[k] for k in fields}})
