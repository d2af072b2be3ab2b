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

from services.certs.catalogue import get_type
from services.certs.certificates import amend, current_status, event, face, issue, view
from services.certs.store import CertsStore
from services.common.codec import city_day
from services.common.document import Document
from services.common.errors import Conflict

COMPOSER = "system:composite"
PARTS_CHANGED = "cert_parts_changed"
ATTEMPTS = 3  # a composite changed by someone else meanwhile is read again
FOLLOWED = ("valid", "suspended")  # a suspended composite keeps following, for its resumption


def follow(store: CertsStore, wrap_key: bytes, now: datetime, part: dict[str, Any]) -> None:
    """What a certificate's event (``part``: its payload or view) changes in the composites
    it belongs to or completes."""
    if (store.load_cert_type(str(part["type"])) or {}).get("sub_types"):
        # A composite changed itself (amended, resumed): its parts as they are now.
        _refresh(store, now, store.versions_of(str(part["number"])))
        return
    bundles = store.composite_types_of(str(part["type"]))
    if not bundles:
        return  # a type no composite licence bundles (the many): nothing to look up
    _refresh(store, now, store.composites_with_part(str(part["number"])))
    assemble_after(store, wrap_key, now, str(part["subject"]), bundles)


def assemble_after(
    store: CertsStore, wrap_key: bytes, now: datetime, subject: str, bundles: list[Document]
) -> list[dict[str, Any]]:
    """The composites (of the types ``bundles``) that ``subject``'s valid certificates
    complete (a new composite) or renew (a new version, when a part was re-issued under a
    new number)."""
    made = []
    today = city_day(now)
    for kind in bundles:
        parts = _valid_parts(store, subject, kind, today)
        issuer = next(iter(store.issuers_of_type(kind["_id"])), None) if parts else None
        if parts is None or issuer is None:
            continue
        numbers = [p["number"] for p in parts]
        current = store.valid_of_type(subject, kind["_id"])
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
                    store, wrap_key, COMPOSER, now, holder, issuer, kind["_id"], fields, request_id
                )
                if new:
                    made.append(certificate)
        elif list(current["fields"].get("parts") or []) != numbers:
            # Another worker making this version at the same moment wins; nothing to add.
            with contextlib.suppress(Conflict):
                reason = "重新核发所含许可"
                fields = {"parts": numbers}
                made.append(amend(store, wrap_key, COMPOSER, now, current, issuer, fields, reason))
    return made


def _valid_parts(
    store: CertsStore, subject: str, kind: Document, today: date
) -> list[Document] | None:
    """The newest valid certificate of each part type, or None while one is missing."""
    parts = []
    for sub_type in kind["sub_types"]:
        found = store.valid_of_type(subject, sub_type)
        if found is None or current_status(found, today) != "valid":
            return None
        parts.append(found)
    return parts


def _request_id(subject: str, composite_type: str, numbers: list[str]) -> str:
    digest = hashlib.sha256("|".join([subject, composite_type, *numbers]).encode()).hexdigest()
    return f"composite:{digest[:40]}"


def _refresh(store: CertsStore, now: datetime, composites: list[Document]) -> list[dict[str, Any]]:
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
            failed = parts_of(store, found, today)["failed_parts"]
            if failed == (found.get("failed_parts") or []):
                break
            kind = get_type(store, found["type"])
            after = view({**found, "failed_parts": failed}, today)
            update = {"$set": {"failed_parts": failed, "parts_failing": bool(failed)}}
            rev = int(found.get("rev", 0)) + 1
            try:
                updated = store.advance_certificate(
                    found,
                    update,
                    now,
                    events=[event(PARTS_CHANGED, after, kind, rev)],
                )
            except Conflict:
                found = store.load_certificate(found["_id"]) or found
                continue
            changed.append(view(updated, today))
            break
    return changed


def parts_of(store: CertsStore, certificate: Document, today: date) -> dict[str, Any]:
    """For a composite: every part's face fields and status, and whether all are valid."""
    shown, failed = [], []
    for number in certificate["fields"].get("parts", []):
        part = store.latest_version(number)
        if part is None:
            failed.append({"number": number, "status": "not_found"})
            continue
        status = current_status(part, today)
        kind = get_type(store, part["type"])
        named = {"number": number, "type": part["type"], "name": kind["names"]["zh"]}
        shown.append({**named, "status": status, "face": face(part, kind)})
        if status != "valid":
            failed.append({**named, "status": status})
    return {"parts": shown, "failed_parts": failed, "all_valid": not failed}
