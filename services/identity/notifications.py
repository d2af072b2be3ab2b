"""Text messages to subjects (短信通知), sent by identity because identity alone holds the
phone numbers. The first kind: a policy pushed to a subject (``policy_pushed`` from the
policy service). A person is texted on their own phone; an organisation on its legal
representative's.

Each text is one document keyed by what caused it (``sms:<inbox message id>``), so an event
delivered twice queues one text; the same key goes to the partner as the idempotency key,
so a retry never texts twice. Sending is leased (one replica at a time), retried with
backoff, then marked ``failed``. Every text sent records a disclosure of the phone number
to the SMS partner, which the person sees among who saw their data."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from services.common.document import Document
from services.identity.pii import PiiKeys
from services.identity.store import IdentityStore

# (key, phone, text) -> (sent, the partner's message id or why not)
Sender = Callable[[str, str, str], tuple[bool, str]]

RETRY_AFTER_S = (10, 30, 60, 300, 900, 3600)
LEASE = timedelta(seconds=60)
SMS_PARTNER = "sms_partner"
NEXT_STEP = {
    "auto": "无需申请，将按规定直接发放",
    "confirm": "请登录一码通城确认领取",
    "push": "请登录一码通城查看详情",
}


def policy_text(notice: dict[str, Any], enterprise: str | None = None) -> str:
    """The text, in the subject's language; no personal data in it beyond the name of the
    enterprise it is for (texted to its legal representative, who may represent several)."""
    amount = notice.get("amount")
    yuan = f"{amount / 100:.2f} 元" if isinstance(amount, int) and amount > 0 else ""
    who = f"您的企业“{enterprise}”" if enterprise else "您"
    policy = f"“{notice['title']}”（{notice['department']}）"
    if notice.get("kind") == "unfunded":
        then = (
            "预算到位后将通知您确认领取"
            if notice.get("mode") == "confirm"
            else "预算到位后将按顺序自动发放，无需申请"
        )
        return f"【一码通城】{who}可享的{policy}补贴 {yuan} 因本期预算已用完暂未发放；{then}。"
    if notice.get("kind") == "offered":
        return (
            f"【一码通城】{who}可享的{policy}补贴 {yuan} 预算已到位，"
            "请登录一码通城确认领取，逾期未确认视为放弃。"
        )
    money = f"，预计可享 {yuan}" if yuan else ""
    step = NEXT_STEP.get(str(notice.get("mode")), NEXT_STEP["push"])
    return f"【一码通城】{who}符合{policy}的条件{money}，{step}。"


def enterprise_name(store: IdentityStore, subject: str) -> str | None:
    if not subject.startswith("o_"):
        return None
    org = store.load_organisation(subject, {"name": 1})
    return str(org["name"]) if org and org.get("name") else None


def recipient(store: IdentityStore, subject: str) -> Document | None:
    """The person whose phone is texted for ``subject``."""
    if subject.startswith("o_"):
        org = store.load_organisation(subject, {"legal_representative": 1})
        subject = (org or {}).get("legal_representative") or ""
    return store.load_person(subject, {"phone": 1, "name": 1}) if subject else None


def queue_policy_push(store: IdentityStore, now: datetime, notice: dict[str, Any]) -> str | None:
    """The notification id when new; None when this message was queued before."""
    notification = {
        "_id": f"sms:{notice['message_id']}",
        "kind": "policy_pushed",
        "subject": notice["subject"],
        "text": policy_text(notice, enterprise_name(store, str(notice["subject"]))),
        "detail": {"title": notice["title"], "department": notice["department"]},
        "state": "pending",
        "attempts": 0,
        "next_at": now,
        "at": now,
    }
    if not store.insert_notification(notification):
        return None
    return str(notification["_id"])


def _claim(store: IdentityStore, now: datetime, notification_id: str) -> Document | None:
    """The due text, for the one replica that claims this attempt (an insert into a unique
    key: a conditional update lets two win on FerretDB). The attempt is named by the time it
    fell due; the winner moves that time a lease ahead, so if it dies before the text is
    recorded, the next attempt after the lease is a new claim."""
    notification = store.due_notification(notification_id, now)
    if notification is None:
        return None
    attempt = f"sms:{notification_id}:{notification['next_at'].isoformat()}"
    if not store.claim(attempt, now):
        return None
    store.update_notification(notification_id, {"next_at": now + LEASE})
    return notification


def deliver(
    store: IdentityStore, pii: PiiKeys, now: datetime, notification_id: str, send: Sender
) -> str:
    """Send one due text; its state afterwards (``pending`` when another replica holds it
    or it will be retried)."""
    notification = _claim(store, now, notification_id)
    if notification is None:
        return "pending"
    person = recipient(store, notification["subject"])
    if person is None or not person.get("phone"):
        return _finish(store, notification_id, {"state": "no_phone"})
    phone = pii.reveal(person["phone"], f"person:{person['_id']}:phone")
    sent, answer = send(notification_id, phone, notification["text"])
    if sent:
        _disclosed(store, now, person["_id"], notification)
        masked = person["phone"]["masked"]
        done = {"state": "sent", "sent_at": now, "partner_id": answer, "to": masked}
        return _finish(store, notification_id, done)
    attempts = notification["attempts"] + 1
    if attempts > len(RETRY_AFTER_S):
        given_up = {"state": "failed", "attempts": attempts, "why": answer}
        return _finish(store, notification_id, given_up)
    retry_at = now + timedelta(seconds=RETRY_AFTER_S[attempts - 1])
    store.update_notification(
        notification_id, {"attempts": attempts, "next_at": retry_at, "why": answer}
    )
    return "pending"


def _finish(store: IdentityStore, notification_id: str, fields: dict[str, Any]) -> str:
    store.update_notification(notification_id, fields)
    return str(fields["state"])


def _disclosed(store: IdentityStore, now: datetime, person: str, notification: Document) -> None:
    store.record_disclosure(
        {
            "_id": f"disclosure:{notification['_id']}",
            "principal": person,
            "to": SMS_PARTNER,
            "fields": ["phone"],
            "purpose": notification["kind"],
            "detail": notification["detail"],
            "at": now,
        }
    )


def deliver_due(
    store: IdentityStore, pii: PiiKeys, now: datetime, send: Sender, limit: int = 100
) -> int:
    """Texts whose time has come (new ones whose first attempt was missed, and retries)."""
    due = store.due_notifications(now, limit)
    return sum(deliver(store, pii, now, notification, send) == "sent" for notification in due)
