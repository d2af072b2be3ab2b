"""The composite licence (一业一证 / 行业综合许可证): one licence bundling the sub-licences of
an industry, issued by different departments in any order.

Its status comes from its parts everywhere (wallet, card, presentations, status list, public
check): when a part stops being valid (revoked, suspended, expired, superseded without a
successor), the composite becomes ``invalid`` naming the part (``failed_parts``, kept on the
composite so that every reader and the status list see it); a part that is valid again
restores it. Re-issuing a part (a new number) makes a new version of the composite listing
it. Both follow the parts' own events (and are also run right after a staff action), so a
worker that dies in between leaves them to the next delivery.

When the last missing part is issued, the composite is generated automatically by the
department that issues the composite type. Its request id is fixed per subject, type and
parts, so two parts issued at the same moment still produce it exactly once (the unique index
on issuer + request id). Revoking the composite revokes nothing else.
"""

from __future__ import annotations

import contextlib
import hashlib
from datetime import date, datetime
from typing import Any

from pymongo.database import Database

from services.certs.catalogue import get_type
from services.certs.certificates import amend, current_status, event, face, issue, view
from services.common.claims import advance
from services.common.codec import city_day
from services.common.errors import Conflict
from services.common.mongo import Document

COMPOSER = "system:composite"
PARTS_CHANGED = "cert_parts_changed"
ATTEMPTS = 3  # a composite changed by someone else meanwhile is read again
FOLLOWED = ("valid", "suspended")  # a suspended composite keeps following, for its resumption


def follow(db: Database[Document], wrap_key: bytes, now: datetime, part: dict[str, Any]) -> None:
    """What a certificate's event (``part``: its payload or view) changes in the composites
    it belongs to or completes."""
    if db.cert_types.find_one({"_id": str(part["type"]), "sub_types": {"$exists": True}}):
        # A composite changed itself (amended, resumed): its parts as they are now.
        _refresh(db, now, db.certificates.find({"number": str(part["number"])}))
        return
    if db.cert_types.find_one({"sub_types": str(part["type"])}, {"_id": 1}) is None:
        return  # a type no composite licence bundles (the many): nothing to look up
    _refresh(db, now, db.certificates.find({"fields.parts": str(part["number"])}))
    assemble_after(db, wrap_key, now, str(part["subject"]), str(part["type"]))


def latest(db: Database[Document], number: str) -> Document | None:
    found = list(db.certificates.find({"number": number}).sort("version", -1).limit(1))
    return found[0] if found else None


def assemble_after(
    db: Database[Document], wrap_key: bytes, now: datetime, subject: str, part_type: str
) -> list[dict[str, Any]]:
    """The composites that ``subject``'s valid certificates of ``part_type`` complete (a new
    composite) or renew (a new version, when a part was re-issued under a new number)."""
    made = []
    today = city_day(now)
    for kind in db.cert_types.find({"sub_types": part_type}):
        parts = _valid_parts(db, subject, kind, today)
        issuer = db.issuers.find_one({"types": kind["_id"]})
        if parts is None or issuer is None:
            continue
        numbers = [p["number"] for p in parts]
        current = db.certificates.find_one(
            {"subject": subject, "type": kind["_id"], "status": "valid"}
        )
        if current is None:
            holder = {
                "id": subject,
                "kind": kind["subject_type"],
                "name": parts[0]["fields"]["holder_name"],
                "org_path": parts[0].get("holder_unit"),
            }
            request_id = _request_id(subject, kind["_id"], numbers)
            fields = {"parts": numbers}
            # The inline follow and the event's may assemble at the same moment: the other
            # one's issue stands (the request id is the same).
            with contextlib.suppress(Conflict):
                certificate, new = issue(
                    db, wrap_key, COMPOSER, now, holder, issuer, kind["_id"], fields, request_id
                )
                if new:
                    made.append(certificate)
        elif list(current["fields"].get("parts") or []) != numbers:
            # Another worker making this version at the same moment wins; nothing to add.
            with contextlib.suppress(Conflict):
                reason = "重新核发所含许可"
                fields = {"parts": numbers}
                made.append(amend(db, wrap_key, COMPOSER, now, current, issuer, fields, reason))
    return made


def _valid_parts(
    db: Database[Document], subject: str, kind: Document, today: date
) -> list[Document] | None:
    """The newest valid certificate of each part type, or None while one is missing."""
    parts = []
    for sub_type in kind["sub_types"]:
        found = db.certificates.find_one(
            {"subject": subject, "type": sub_type, "status": "valid"}, sort=[("issued_at", -1)]
        )
        if found is None or current_status(found, today) != "valid":
            return None
        parts.append(found)
    return parts


def _request_id(subject: str, composite_type: str, numbers: list[str]) -> str:
    digest = hashlib.sha256("|".join([subject, composite_type, *numbers]).encode()).hexdigest()
    return f"composite:{digest[:40]}"


def _refresh(db: Database[Document], now: datetime, composites: Any) -> list[dict[str, Any]]:
    """Each composite in force or suspended (not superseded or revoked) with its failed parts
    recomputed (``cert_parts_changed`` when they changed); returns those that changed.
    ``parts_failing`` repeats ``failed_parts`` as a flag the status list can query on
    FerretDB, which matches no array by its length."""
    changed = []
    today = city_day(now)
    for found in composites:
        for _ in range(ATTEMPTS):
            if found["status"] not in FOLLOWED:
                break
            failed = parts_of(db, found, today)["failed_parts"]
            if failed == (found.get("failed_parts") or []):
                break
            kind = get_type(db, found["type"])
            after = view({**found, "failed_parts": failed}, today)
            update = {"$set": {"failed_parts": failed, "parts_failing": bool(failed)}}
            rev = int(found.get("rev", 0)) + 1
            try:
                updated = advance(
                    db,
                    "certificates",
                    found,
                    update,
                    now,
                    events=[event(PARTS_CHANGED, after, kind, rev)],
                )
            except Conflict:
                found = db.certificates.find_one({"_id": found["_id"]}) or found
                continue
            changed.append(view(updated, today))
            break
    return changed


def parts_of(db: Database[Document], certificate: Document, today: date) -> dict[str, Any]:
    """For a composite: every part's face fields and status, and whether all are valid."""
    shown, failed = [], []
    for number in certificate["fields"].get("parts", []):
        part = latest(db, number)
        if part is None:
            failed.append({"number": number, "status": "not_found"})
            continue
        status = current_status(part, today)
        kind = get_type(db, part["type"])
        named = {"number": number, "type": part["type"], "name": kind["names"]["zh"]}
        shown.append({**named, "status": status, "face": face(part, kind)})
        if status != "valid":
            failed.append({**named, "status": status})
    return {"parts": shown, "failed_parts": failed, "all_valid": not failed}
