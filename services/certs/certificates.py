"""The life of a certificate: issue (signed, idempotent per issuer and request id), suspend,
resume, revoke; expiry follows ``valid_until``. The holder's wallet and the public
authenticity check read it."""

from __future__ import annotations

import re
import secrets
from datetime import date, datetime, timedelta
from typing import Any

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError, PyMongoError

from services.certs import issuers
from services.certs.catalogue import get_type, validate_fields
from services.certs.signing import new_salts, sealed_part, sign
from services.common.actor import Actor
from services.common.claims import advance, claim
from services.common.codec import to_wire
from services.common.errors import Conflict, Forbidden, InvalidInput, NotFound
from services.common.mongo import Document

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
TRANSITIONS = {
    "suspend": ("valid", "suspended"),
    "resume": ("suspended", "valid"),
    "revoke": (None, "revoked"),
}


def current_status(certificate: Document, today: date) -> str:
    if certificate["status"] != "valid":
        return str(certificate["status"])
    return "expired" if date.fromisoformat(certificate["valid_until"]) < today else "valid"


def face(certificate: Document, cert_type: Document) -> dict[str, Any]:
    return {
        k: certificate["fields"][k] for k in cert_type["face_fields"] if k in certificate["fields"]
    }


def view(certificate: Document, today: date) -> dict[str, Any]:
    return to_wire(
        {
            "id": certificate["_id"],
            "number": certificate["number"],
            "type": certificate["type"],
            "issuer": certificate["issuer"],
            "subject": certificate["subject"],
            "fields": certificate["fields"],
            "version": certificate["version"],
            "valid_from": certificate["valid_from"],
            "valid_until": certificate["valid_until"],
            "status": current_status(certificate, today),
            "status_reason": certificate.get("status_reason"),
            "status_index": certificate["status_index"],
            "kid": certificate["kid"],
            "signature": certificate["signature"],
            "sealed": sealed_part(certificate),
            "supersedes": certificate.get("supersedes"),
            "issued_at": certificate["issued_at"],
        }
    )


def issue_certificate(
    db: Database[Document],
    wrap_key: bytes,
    actor: Actor,
    now: datetime,
    subject: dict[str, Any],
    issuer_id: str,
    cert_type: str,
    fields: dict[str, Any],
    request_id: str,
    valid_from: str | None = None,
    valid_until: str | None = None,
) -> tuple[dict[str, Any], bool]:
    """Returns the certificate and whether it is new (False: the same request came again)."""
    issuer = issuers.get_issuer(db, issuer_id)
    issuers.require_staff_of(actor, issuer)
    if not isinstance(request_id, str) or not _REQUEST_ID.match(request_id):
        raise InvalidInput("1–64 letters, digits or . _ : -", field="request_id")
    request_key = f"issue:{issuer['_id']}:{request_id}"
    if db.claims.find_one({"_id": request_key}, {"_id": 1}) is not None:
        return _earlier(db, request_key, now), False
    kind = get_type(db, cert_type)
    if cert_type not in issuer["types"]:
        raise Forbidden("this issuer does not issue this type", code="type_not_allowed")
    if kind["subject_type"] != subject["kind"]:
        raise InvalidInput(f"this type is issued to a {kind['subject_type']}", field="subject")
    fields = validate_fields(kind, {"holder_name": subject["name"], **fields})
    starts = _date(valid_from, "valid_from") or now.date()
    ends = _date(valid_until, "valid_until") or starts + timedelta(days=kind["validity_days"])
    if ends <= starts:
        raise InvalidInput("must be after valid_from", field="valid_until")
    certificate_id = "cert_" + secrets.token_hex(8)
    # Idempotency per (issuer, request id) as a claim keyed by _id (the one lookup that is
    # fast on FerretDB as on MongoDB), taken after validation so a refused request does not
    # hold its id; of two identical requests at once only one inserts the claim.
    if not claim(db, request_key, now, certificate_id=certificate_id):
        return _earlier(db, request_key, now), False
    index = issuers.allocate_index(db, issuer, now)
    certificate: Document = {
        "_id": certificate_id,
        "number": f"{issuer['code']}-{now.year}-{index:07d}",
        "type": cert_type,
        "issuer": issuer["_id"],
        "subject": subject["id"],
        "fields": fields,
        "version": 1,
        "valid_from": starts.isoformat(),
        "valid_until": ends.isoformat(),
        "status_index": index,
        "supersedes": None,
        "kid": issuer["jwk"]["kid"],
        "status": "valid",
        "status_reason": None,
        "request_id": request_id,
        "issued_at": now,
        "issued_by": actor.account_id,
    }
    certificate["salts"] = new_salts(fields)
    certificate["signature"] = sign(certificate, issuers.signing_key(issuer, wrap_key))
    try:
        db.certificates.insert_one(certificate)
    except DuplicateKeyError:
        # Issued before claims existed (the unique issuer + request id index still guards):
        # point the claim at that certificate and answer with it.
        earlier = db.certificates.find_one({"issuer": issuer["_id"], "request_id": request_id})
        if earlier is None:
            db.claims.delete_one({"_id": request_key})
            raise
        db.claims.update_one({"_id": request_key}, {"$set": {"certificate_id": earlier["_id"]}})
        return view(earlier, now.date()), False
    except PyMongoError:
        db.claims.delete_one({"_id": request_key})  # let the caller retry the same request
        raise
    return view(certificate, now.date()), True


def amend_certificate(
    db: Database[Document],
    wrap_key: bytes,
    actor: Actor,
    now: datetime,
    certificate_id: str,
    fields: dict[str, Any],
    reason: str,
) -> dict[str, Any]:
    """变更: a new version with the changed fields; the old version is kept, marked
    superseded, and the chain stays readable. Two amendments at once: one wins (the unique
    number + version), the other gets 409."""
    old = get_certificate(db, certificate_id)
    issuer = issuers.get_issuer(db, old["issuer"])
    issuers.require_staff_of(actor, issuer)
    if old["status"] != "valid":
        raise Conflict(
            f"only a valid certificate is amended; this one is {old['status']}", state=old["status"]
        )
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidInput("a reason is required", field="reason")
    kind = get_type(db, old["type"])
    merged = validate_fields(kind, {**old["fields"], **(fields or {})})
    index = issuers.allocate_index(db, issuer, now)
    new: Document = {
        **{
            k: old[k]
            for k in ("number", "type", "issuer", "subject", "valid_from", "valid_until", "kid")
        },
        "_id": "cert_" + secrets.token_hex(8),
        "fields": merged,
        "version": old["version"] + 1,
        "status_index": index,
        "supersedes": old["_id"],
        "status": "valid",
        "status_reason": None,
        "request_id": f"amend:{old['_id']}",
        "issued_at": now,
        "issued_by": actor.account_id,
        "amend_reason": reason.strip(),
    }
    new["kid"] = issuer["jwk"]["kid"]
    new["salts"] = new_salts(merged)
    new["signature"] = sign(new, issuers.signing_key(issuer, wrap_key))
    try:
        db.certificates.insert_one(new)
    except DuplicateKeyError as exc:
        raise Conflict("this certificate was amended at the same time", state="superseded") from exc
    try:
        advance(
            db,
            "certificates",
            old,
            {
                "$set": {
                    "status": "superseded",
                    "status_reason": reason.strip(),
                    "superseded_by": new["_id"],
                    "status_changed_at": now,
                }
            },
            now,
        )
    except Conflict:
        db.certificates.delete_one({"_id": new["_id"]})  # revoked meanwhile: undo the new version
        raise
    return view(new, now.date())


def versions(db: Database[Document], certificate_id: str, today: date) -> list[dict[str, Any]]:
    number = get_certificate(db, certificate_id)["number"]
    return [view(c, today) for c in db.certificates.find({"number": number}).sort("version", 1)]


def _earlier(db: Database[Document], request_key: str, now: datetime) -> dict[str, Any]:
    """The certificate an earlier request with the same id made (409 while it is still being
    made; nothing, if it failed validation: then the claim is released)."""
    claimed = db.claims.find_one({"_id": request_key})
    earlier = db.certificates.find_one({"_id": claimed["certificate_id"]}) if claimed else None
    if earlier is None:
        raise Conflict(
            "a request with this request_id is still being processed; retry", field="request_id"
        )
    return view(earlier, now.date())


def _date(value: str | None, field: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInput("a date YYYY-MM-DD", field=field) from exc


def change_status(
    db: Database[Document],
    actor: Actor,
    now: datetime,
    certificate_id: str,
    action: str,
    reason: str,
) -> dict[str, Any]:
    certificate = db.certificates.find_one({"_id": certificate_id})
    if certificate is None:
        raise NotFound("no such certificate")
    issuers.require_staff_of(actor, issuers.get_issuer(db, certificate["issuer"]))
    if action not in TRANSITIONS:
        raise InvalidInput("suspend, resume or revoke", field="action")
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidInput("a reason is required", field="reason")
    expected, target = TRANSITIONS[action]
    if (expected is not None and certificate["status"] != expected) or certificate["status"] in (
        "revoked",
        "superseded",
    ):
        raise Conflict(
            f"cannot {action} a certificate that is {certificate['status']}",
            state=certificate["status"],
        )
    entry = {"action": action, "reason": reason.strip(), "by": actor.account_id, "at": now}
    # Compare-and-set through a claimed revision: of two staff acting at once, one wins and
    # the other gets 409 (a revoked certificate never goes back to suspended or valid).
    updated = advance(
        db,
        "certificates",
        certificate,
        {
            "$set": {"status": target, "status_reason": reason.strip(), "status_changed_at": now},
            "$push": {"history": entry},
        },
        now,
    )
    return view(updated, now.date())


def get_certificate(db: Database[Document], certificate_id: str) -> Document:
    certificate = db.certificates.find_one({"_id": certificate_id})
    if certificate is None:
        raise NotFound("no such certificate")
    return certificate


def wallet(db: Database[Document], subjects: list[str], today: date) -> list[dict[str, Any]]:
    found = db.certificates.find({"subject": {"$in": subjects}, "status": {"$ne": "superseded"}})
    return [view(c, today) for c in found.sort("issued_at", -1).limit(500)]


def by_subject(
    db: Database[Document], actor: Actor, subject: str, today: date
) -> list[dict[str, Any]]:
    """Staff view of a subject's current certificates (issuer staff and supervisors)."""
    actor.require_role("staff", "supervisor", "admin")
    found = db.certificates.find({"subject": subject, "status": {"$ne": "superseded"}})
    return [view(c, today) for c in found.sort("issued_at", 1).limit(500)]


def newly_expired(db: Database[Document], now: datetime, limit: int = 500) -> list[dict[str, Any]]:
    """Certificates whose validity ended and that were not announced yet; each is claimed
    once (common.claims), so two sweepers or replicas never announce one twice."""
    found = db.certificates.find(
        {
            "status": "valid",
            "valid_until": {"$lt": now.date().isoformat()},
            "expiry_announced": {"$ne": True},
        }
    ).limit(limit)
    announced = []
    for certificate in found:
        if claim(db, f"expired:{certificate['_id']}", now):
            announced.append(view(certificate, now.date()))
        db.certificates.update_one(
            {"_id": certificate["_id"]}, {"$set": {"expiry_announced": True}}
        )
    return announced


def card(
    db: Database[Document], holders: list[str], certificate_id: str, today: date
) -> dict[str, Any]:
    """What a wallet card shows: the face fields with their type and issuer, and status."""
    certificate = db.certificates.find_one({"_id": certificate_id})
    if certificate is None or certificate["subject"] not in holders:
        raise NotFound("no such certificate in your wallet")
    kind = get_type(db, certificate["type"])
    issuer = issuers.get_issuer(db, certificate["issuer"])
    return to_wire(
        {
            "number": certificate["number"],
            "type_name": kind["names"]["zh"],
            "issuer_name": issuer["name"],
            "face": face(certificate, kind),
            "valid_from": certificate["valid_from"],
            "valid_until": certificate["valid_until"],
            "status": current_status(certificate, today),
            "version": certificate["version"],
        }
    )


def public_check(db: Database[Document], number: str, today: date) -> dict[str, Any]:
    """What anyone holding a printed or shared certificate may learn: whether it is authentic
    and current, and what is printed on its face; nothing more."""
    found = (
        list(db.certificates.find({"number": number}).sort("version", -1).limit(1))
        if isinstance(number, str)
        else []
    )
    if not found:
        return {"number": number, "result": "not_found"}
    certificate = found[0]
    kind = get_type(db, certificate["type"])
    issuer = issuers.get_issuer(db, certificate["issuer"])
    status = current_status(certificate, today)
    extra: dict[str, Any] = {}
    if kind.get("sub_types"):
        from services.certs.composite import parts_of  # composite builds on this module

        extra = parts_of(db, certificate, today)
        if status == "valid" and not extra["all_valid"]:
            status = "invalid"
    return to_wire(
        {
            **extra,
            "number": number,
            "result": "authentic" if status == "valid" else status,
            "type": {"code": kind["_id"], "name": kind["names"]["zh"]},
            "issuer": {"id": issuer["_id"], "name": issuer["name"]},
            "face": face(certificate, kind),
            "valid_from": certificate["valid_from"],
            "valid_until": certificate["valid_until"],
            "version": certificate["version"],
        }
    )


def event_payload(certificate: dict[str, Any], db: Database[Document]) -> dict[str, Any]:
    """What other services learn from cert_* events: the pseudonymous subject, the type, the
    face fields (policy derives facts such as disability category and grade from them)."""
    kind = get_type(db, certificate["type"])
    return {
        "certificate_id": certificate["id"],
        "number": certificate["number"],
        "type": certificate["type"],
        "issuer": certificate["issuer"],
        "subject": certificate["subject"],
        "face": face(certificate, kind),
        "status": certificate["status"],
        "version": certificate["version"],
        "valid_until": certificate["valid_until"],
    }
