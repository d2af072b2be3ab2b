"""The inbox of pushed policies (政策推送): a subject newly eligible for a push, confirm or
auto policy gets one message per policy version, never two (the message id is the policy
version and the subject).

A new message is also queued for a text message (``notify: queued``, written with the
message itself, so a crash loses neither); :func:`relay` hands it to identity, which holds
the phone number, as a ``policy_pushed`` event. At least once: identity keys the text by the
message id, and so does the SMS partner."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from services.common.codec import to_wire
from services.common.logs import request_id_var
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
        "notify": "queued",
        "request_id": request_id_var.get(),  # carried on when the text is relayed
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
    hidden = ("_id", "request_id")
    return [to_wire({"id": m["_id"], **{k: m[k] for k in m if k not in hidden}}) for m in found]


def notice(message: Document) -> dict[str, Any]:
    """What identity needs to text the subject (no personal data: identity has it)."""
    fields = ("subject", "title", "department", "mode", "amount")
    carried = {"request_id": message.get("request_id")}
    return to_wire({"message_id": message["_id"], **{k: message[k] for k in fields}, **carried})


def relay(db: Database[Document], dispatch: Callable[[str, Any], None], limit: int = 200) -> int:
    """Hand queued messages to identity (oldest first); the number handed."""
    handed = 0
    for message in list(db.inbox.find({"notify": "queued"}).sort("at", 1).limit(limit)):
        dispatch("policy_pushed", notice(message))
        db.inbox.update_one(
            {"_id": message["_id"], "notify": "queued"}, {"$set": {"notify": "handed"}}
        )
        handed += 1
    return handed
