"""The life of a certificate: issue (signed, idempotent per issuer and request id), suspend,
resume, revoke; expiry follows ``valid_until``. The holder's wallet and the public
authenticity check read it."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import date, datetime, timedelta
from typing import Any

from services.certs import access, holdings, issuers
from services.certs.catalogue import get_type, validate_fields
from services.certs.signing import new_salts, sealed_part, sign
from services.certs.store import CertsStore
from services.common.access import Guard
from services.common.claims import CLAIMS
from services.common.codec import city_day, to_wire
from services.common.crypto import same
from services.common.document import Document
from services.common.errors import Conflict, Forbidden, InvalidInput, NotFound
from services.common.outbox import Commit, Event

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}\Z")
NUMBER_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base 32
STATUS_EVENTS = {"revoke": "cert_revoked", "suspend": "cert_suspended", "resume": "cert_resumed"}
TRANSITIONS = {
    "suspend": ("valid", "suspended"),
    "resume": ("suspended", "valid"),
    "revoke": (None, "revoked"),
}


def current_status(certificate: Document, today: date) -> str:
    """The status everyone is told (wallet, card, public check, presentations, status list):
    the stored one, or ``expired`` after its last day, or ``not_yet_valid`` before its first,
    or ``invalid`` for a composite licence with a part not valid."""
    if certificate["status"] != "valid":
        return str(certificate["status"])
    if date.fromisoformat(certificate["valid_until"]) < today:
        return "expired"
    starts = certificate.get("valid_from")
    if starts and date.fromisoformat(str(starts)) > today:
        return "not_yet_valid"
    # A composite licence whose parts are not all valid (services.certs.composite keeps it).
    return "invalid" if certificate.get("failed_parts") else "valid"


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
            **(
                {"failed_parts": certificate["failed_parts"]}
                if "failed_parts" in certificate
                else {}
            ),
            "status_index": certificate["status_index"],
            "kid": certificate["kid"],
            "signature": certificate["signature"],
            "sealed": sealed_part(certificate),
            "supersedes": certificate.get("supersedes"),
            "issued_at": certificate["issued_at"],
        }
    )


def issue_certificate(
    store: CertsStore,
    wrap_key: bytes,
    guard: Guard,
    now: datetime,
    subject: dict[str, Any],
    issuer_id: str,
    cert_type: str,
    fields: dict[str, Any],
    request_id: str,
    valid_from: str | None = None,
    valid_until: str | None = None,
) -> tuple[dict[str, Any], bool]:
    """Staff of the issuing department issue to a subject of the issuer's area (anyone else,
    or a subject elsewhere, is answered as if absent). Returns the certificate and whether
    it is new (False: the same request came again)."""
    issuer = issuers.get_issuer(store, issuer_id)
    guard.require(access.issuer(issuer), "no such issuer", field="issuer")
    guard.require(access.holder(subject, issuer), "no such subject", field="subject")
    return issue(
        store,
        wrap_key,
        guard.actor.account_id,
        now,
        subject,
        issuer,
        cert_type,
        fields,
        request_id,
        valid_from,
        valid_until,
    )


def new_number(issuer: Document, now: datetime) -> str:
    """``HPCL-2026-K7Q2M9XW4D``: the issuer, the year and ten random characters (50 bits) of
    Crockford's base-32, so nobody lists the holders of a type by counting."""
    random = "".join(secrets.choice(NUMBER_ALPHABET) for _ in range(10))
    return f"{issuer['code']}-{now.year}-{random}"


def issue(
    store: CertsStore,
    wrap_key: bytes,
    by: str | None,
    now: datetime,
    subject: dict[str, Any],
    issuer: Document,
    cert_type: str,
    fields: dict[str, Any],
    request_id: str,
    valid_from: str | None = None,
    valid_until: str | None = None,
) -> tuple[dict[str, Any], bool]:
    """Issue, once per (issuer, request id), after access was decided."""
    if not isinstance(request_id, str) or not _REQUEST_ID.match(request_id):
        raise InvalidInput("1–64 letters, digits or . _ : -", field="request_id")
    request_key = f"issue:{issuer['_id']}:{request_id}"
    if store.is_claimed(request_key):
        return _earlier(store, request_key, now), False
    kind = get_type(store, cert_type)
    if cert_type not in issuer["types"]:
        raise Forbidden("this issuer does not issue this type", code="type_not_allowed")
    if kind["subject_type"] != subject["kind"]:
        raise InvalidInput(f"this type is issued to a {kind['subject_type']}", field="subject")
    if not isinstance(fields, dict):
        raise InvalidInput("an object of field name → value", field="fields")
    # The holder's name is the registered subject's, whatever the request says.
    fields = validate_fields(kind, {**fields, "holder_name": subject["name"]})
    starts = _date(valid_from, "valid_from") or city_day(now)
    ends = _date(valid_until, "valid_until") or starts + timedelta(days=kind["validity_days"])
    if ends <= starts:
        raise InvalidInput("must be after valid_from", field="valid_until")
    certificate_id = "cert_" + secrets.token_hex(8)
    # Idempotency per (issuer, request id) as a claim keyed by _id (the one lookup that is
    # fast on FerretDB as on MongoDB), taken after validation so a refused request does not
    # hold its id; of two identical requests at once only one inserts the claim.
    if not store.claim(request_key, now, certificate_id=certificate_id):
        return _earlier(store, request_key, now), False
    number = new_number(issuer, now)
    try:
        if ends >= city_day(
            now
        ):  # a certificate of the past (entered for the record) holds nothing
            holdings.take(
                store, kind, subject["id"], number, now, lambda c: current_status(c, city_day(now))
            )
    except Conflict:
        store.release_claim(request_key)  # refused: the request id stays free
        raise
    index = issuers.allocate_index(store, issuer, now)
    certificate: Document = {
        "_id": certificate_id,
        "number": number,
        "type": cert_type,
        "issuer": issuer["_id"],
        "subject": subject["id"],
        "holder_unit": subject.get("org_path"),
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
        "issued_by": by,
        "start_pending": starts > city_day(now),  # announced as cert_started on its first day
    }
    certificate["salts"] = new_salts(fields)
    certificate["signature"] = sign(certificate, issuers.signing_key(issuer, wrap_key))
    issued = view(certificate, city_day(now))
    commit = Commit("certificates", certificate_id)  # the insert below commits the event
    store.stage_events(now, commit, event("cert_issued", issued, kind))
    if store.insert_certificate(certificate, claim=request_key):
        return issued, True
    # Issued before claims existed (the unique issuer + request id index still guards):
    # point the claim at that certificate and answer with it.
    earlier = store.certificate_of_request(issuer["_id"], request_id)
    if earlier is None:
        store.release_claim(request_key)
        raise Conflict("this certificate was issued at the same time; retry", field="request_id")
    store.repoint_claim(request_key, certificate_id=earlier["_id"])
    return view(earlier, city_day(now)), False


def load_guarded(store: CertsStore, guard: Guard, certificate_id: Any) -> tuple[Document, Document]:
    """A certificate and its issuer, if the operation's rule allows it on them."""
    certificate = (
        store.load_certificate(certificate_id) if isinstance(certificate_id, str) else None
    )
    if certificate is None:
        raise NotFound("no such certificate")
    issuer = issuers.get_issuer(store, certificate["issuer"])
    guard.require(access.certificate(certificate, issuer["org_path"]), "no such certificate")
    return certificate, issuer


def amend_certificate(
    store: CertsStore,
    wrap_key: bytes,
    guard: Guard,
    now: datetime,
    certificate_id: str,
    fields: dict[str, Any],
    reason: str,
    valid_until: str | None = None,
) -> dict[str, Any]:
    """变更: a new version with the changed fields (and, to renew it, a new last day, also for
    a certificate that has expired); the old version is kept, marked superseded, and the chain
    stays readable. Two amendments at once: one wins (the unique number + version), the other
    gets 409."""
    old, issuer = load_guarded(store, guard, certificate_id)
    return amend(
        store, wrap_key, guard.actor.account_id, now, old, issuer, fields, reason, valid_until
    )


def amend(
    store: CertsStore,
    wrap_key: bytes,
    by: str | None,
    now: datetime,
    old: Document,
    issuer: Document,
    fields: dict[str, Any],
    reason: str,
    valid_until: str | None = None,
) -> dict[str, Any]:
    """A new version of ``old`` (after access was decided)."""
    if old["status"] != "valid":
        raise Conflict(
            f"only a valid certificate is amended; this one is {old['status']}", state=old["status"]
        )
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidInput("a reason is required", field="reason")
    kind = get_type(store, old["type"])
    if not isinstance(fields, dict):
        raise InvalidInput("an object of field name → value", field="fields")
    merged = validate_fields(
        kind, {**old["fields"], **fields, "holder_name": old["fields"].get("holder_name")}
    )
    ends = _date(valid_until, "valid_until") if valid_until else None
    if ends is not None and ends <= date.fromisoformat(old["valid_from"]):
        raise InvalidInput("must be after valid_from", field="valid_until")
    if (ends or date.fromisoformat(old["valid_until"])) >= city_day(now):
        # A renewal brings a certificate back in force: not while the holder holds another.
        holdings.take(
            store,
            kind,
            old["subject"],
            old["number"],
            now,
            lambda c: current_status(c, city_day(now)),
        )
    index = issuers.allocate_index(store, issuer, now)
    new: Document = {
        **{
            k: old.get(k)
            for k in (
                "number",
                "type",
                "issuer",
                "subject",
                "holder_unit",
                "valid_from",
                "valid_until",
                "kid",
            )
        },
        **({"valid_until": ends.isoformat()} if ends is not None else {}),
        "_id": "cert_" + secrets.token_hex(8),
        "fields": merged,
        "version": old["version"] + 1,
        "status_index": index,
        "supersedes": old["_id"],
        "start_pending": date.fromisoformat(str(old["valid_from"])) > city_day(now),
        "status": "valid",
        "status_reason": None,
        "request_id": f"amend:{old['_id']}",
        "issued_at": now,
        "issued_by": by,
        "amend_reason": reason.strip(),
    }
    new["kid"] = issuer["jwk"]["kid"]
    new["salts"] = new_salts(merged)
    new["signature"] = sign(new, issuers.signing_key(issuer, wrap_key))
    amended = view(new, city_day(now))
    if not store.insert_certificate(new):
        raise Conflict("this certificate was amended at the same time", state="superseded")
    try:
        store.advance_certificate(  # the old version's claim commits the amendment and its event
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
            events=[event("cert_amended", amended, kind)],
        )
    except Conflict:
        store.delete_certificate(new["_id"])  # revoked meanwhile: undo the new version
        raise
    return amended


def versions(
    store: CertsStore, guard: Guard, certificate_id: str, today: date
) -> list[dict[str, Any]]:
    number = load_guarded(store, guard, certificate_id)[0]["number"]
    return [view(c, today) for c in store.versions_of(number)]


def _earlier(store: CertsStore, request_key: str, now: datetime) -> dict[str, Any]:
    """The certificate an earlier request with the same id made (409 while it is still being
    made; nothing, if it failed validation: then the claim is released)."""
    claimed = store.claimed(request_key)
    earlier = store.load_certificate(claimed["certificate_id"]) if claimed else None
    if earlier is None:
        raise Conflict(
            "a request with this request_id is still being processed; retry", field="request_id"
        )
    return view(earlier, city_day(now))


def _date(value: str | None, field: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInput("a date YYYY-MM-DD", field=field) from exc


def change_status(
    store: CertsStore,
    guard: Guard,
    now: datetime,
    certificate_id: str,
    action: str,
    reason: str,
) -> dict[str, Any]:
    certificate, _issuer = load_guarded(store, guard, certificate_id)
    actor = guard.actor
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
    changes = {"status": target, "status_reason": reason.strip(), "status_changed_at": now}
    rev = int(certificate.get("rev", 0)) + 1
    after = view({**certificate, **changes}, city_day(now))
    # Compare-and-set through a claimed revision: of two staff acting at once, one wins and
    # the other gets 409 (a revoked certificate never goes back to suspended or valid); the
    # winner's claim commits its event.
    updated = store.advance_certificate(
        certificate,
        {"$set": changes, "$push": {"history": entry}},
        now,
        events=[event(STATUS_EVENTS[action], after, get_type(store, certificate["type"]), rev)],
    )
    return view(updated, city_day(now))


def get_certificate(store: CertsStore, certificate_id: str) -> Document:
    certificate = store.load_certificate(certificate_id)
    if certificate is None:
        raise NotFound("no such certificate")
    return certificate


def wallet(
    store: CertsStore, subjects: list[str], check_key: bytes, today: date
) -> list[dict[str, Any]]:
    """The certificates of the subjects the caller holds (``Guard.mine``), each with the check
    code its holder may give whoever should read its face at the public check."""
    return [
        {**view(c, today), "check_code": check_code(check_key, c["number"])}
        for c in store.held_by(subjects)
    ]


def by_subject(
    store: CertsStore, guard: Guard, check_key: bytes, subject: str, today: date
) -> list[dict[str, Any]]:
    """A subject's current certificates as one member of staff may see them: those of a
    holder in their jurisdiction, and those their department issued. A subject out of reach
    has, to them, none (the same answer as a subject that does not exist)."""
    if not isinstance(subject, str):
        guard.done()
        return []
    units = {i["_id"]: i["org_path"] for i in store.issuers({"org_path": 1})}
    shown = guard.filter(
        store.held_by([subject], newest_first=False),
        lambda c: access.certificate(c, units.get(c["issuer"])),
    )
    # The staff who hand a certificate over can print its card, check code included.
    return [{**view(c, today), "check_code": check_code(check_key, c["number"])} for c in shown]


def newly_started(store: CertsStore, now: datetime, limit: int = 500) -> list[dict[str, Any]]:
    """Certificates issued ahead of their first day that reached it: announced once each
    (``cert_started``), so that what follows a certificate's status (policy's facts) learns it
    is in force."""
    due = store.due_to_start(city_day(now).isoformat(), limit)
    return _announce(store, now, due, "cert_started", "started", "start_pending", False)


def newly_expired(store: CertsStore, now: datetime, limit: int = 500) -> list[dict[str, Any]]:
    """Certificates whose validity ended and that were not announced yet (``cert_expired``)."""
    due = store.due_to_expire(city_day(now).isoformat(), limit)
    return _announce(store, now, due, "cert_expired", "expired", "expiry_announced", True)


def _announce(
    store: CertsStore,
    now: datetime,
    due: list[Document],
    name: str,
    claimed_as: str,
    mark: str,
    marked: bool,
) -> list[dict[str, Any]]:
    """One event ``name`` for each certificate ``due``, each claimed once (common.claims),
    so two sweepers or replicas never announce one twice; ``mark`` is then set to
    ``marked`` so that it is not found again."""
    announced = []
    for certificate in due:
        key = f"{claimed_as}:{certificate['_id']}"
        shown = view(certificate, city_day(now))
        kind = get_type(store, certificate["type"])
        rev = int(certificate.get("rev", 0))
        store.stage_events(now, Commit(CLAIMS, key), event(name, shown, kind, rev))
        if store.claim(key, now):
            announced.append(shown)
        store.mark_certificate(certificate["_id"], {mark: marked})
    return announced


def card(
    store: CertsStore, guard: Guard, check_key: bytes, certificate_id: str, today: date
) -> dict[str, Any]:
    """What a wallet card shows: the face fields with their type and issuer, status, and the
    check code printed beside the QR (it opens the face fields at the public check)."""
    certificate, issuer = load_guarded(store, guard, certificate_id)
    kind = get_type(store, certificate["type"])
    return to_wire(
        {
            "number": certificate["number"],
            "check_code": check_code(check_key, certificate["number"]),
            "type_name": kind["names"]["zh"],
            "issuer_name": issuer["name"],
            "face": face(certificate, kind),
            "valid_from": certificate["valid_from"],
            "valid_until": certificate["valid_until"],
            "status": current_status(certificate, today),
            "failed_parts": certificate.get("failed_parts") or [],
            "version": certificate["version"],
        }
    )


def check_code(key: bytes, number: str) -> str:
    """The code printed on a certificate's card: derived from its number with the issuers'
    key, so it is stored nowhere and cannot be guessed from the number."""
    digest = hmac.new(key, number.encode(), hashlib.sha256).digest()
    value = int.from_bytes(digest[:8], "big")
    return "".join(NUMBER_ALPHABET[(value >> (5 * i)) & 31] for i in range(8))


def public_check(
    store: CertsStore, check_key: bytes, number: str, code: str | None, today: date
) -> dict[str, Any]:
    """What anyone may learn from a certificate number: whether it is authentic and current,
    its type, issuer and validity; nothing about its holder. With the check code printed on
    the card (whoever holds the card), also the face fields printed on it."""
    certificate = store.latest_version(number) if isinstance(number, str) else None
    if certificate is None:
        return {"number": number, "result": "not_found"}
    kind = get_type(store, certificate["type"])
    issuer = issuers.get_issuer(store, certificate["issuer"])
    status = current_status(certificate, today)
    typed = code.strip().upper() if isinstance(code, str) else ""
    opened = bool(typed) and same(typed, check_code(check_key, certificate["number"]))
    extra: dict[str, Any] = {}
    if kind.get("sub_types"):
        from services.certs.composite import parts_of  # composite builds on this module

        parts = parts_of(store, certificate, today)  # as of now, whatever is stored
        status = current_status({**certificate, "failed_parts": parts["failed_parts"]}, today)
        # Which part failed is status, as the composite's own is; the parts' faces need the code.
        extra = parts if opened else {k: parts[k] for k in ("all_valid", "failed_parts")}
    result = {
        **extra,
        "number": number,
        "result": "authentic" if status == "valid" else status,
        "type": {"code": kind["_id"], "name": kind["names"]["zh"]},
        "issuer": {"id": issuer["_id"], "name": issuer["name"]},
        "valid_from": certificate["valid_from"],
        "valid_until": certificate["valid_until"],
        "version": certificate["version"],
    }
    if opened:
        result["face"] = face(certificate, kind)
    elif code is not None:
        result["check_code"] = "wrong"
    return to_wire(result)


def event(name: str, certificate: dict[str, Any], kind: Document, rev: int = 0) -> Event:
    """A cert_* event of ``certificate`` (its view) at revision ``rev``, to stage with the
    change that causes it: the same change staged twice queues it once."""
    key = f"{name}:{certificate['id']}:rev{rev}"
    return Event(name, key, {**event_payload(certificate, kind), "rev": rev})


def event_payload(certificate: dict[str, Any], kind: Document) -> dict[str, Any]:
    """What other services learn from cert_* events: the pseudonymous subject, the type, the
    face fields (policy derives facts such as disability category and grade from them), and
    the certificate's version and revision, so a late or repeated event is recognised."""
    return {
        "certificate_id": certificate["id"],
        "number": certificate["number"],
        "type": certificate["type"],
        "issuer": certificate["issuer"],
        "subject": certificate["subject"],
        "face": face(certificate, kind),
        "status": certificate["status"],
        "version": certificate["version"],
        "valid_from": certificate["valid_from"],
        "valid_until": certificate["valid_until"],
        **({"failed_parts": certificate["failed_parts"]} if "failed_parts" in certificate else {}),
    }
