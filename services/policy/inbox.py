"""The inbox of pushed policies (政策推送): a subject newly eligible for a push, confirm or
auto policy gets one message per policy version, never two (the message id is the policy
version and the subject)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

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
    try:
        db.inbox.insert_one(message)
    except DuplicateKeyError:
        return False
    return True


def messages_for(
    db: Database[Document], subjects: list[str], limit: int = 50
) -> list[dict[str, Any]]:
    found = db.inbox.find({"subject": {"$in": subjects}}).sort("at", -1).limit(limit)
    return [to_wire({"id": m["_id"], **{k: m[k] for k in m if k != "_id"}}) for m in found]
