"""The composite licence (一业一证 / 行业综合许可证): one licence bundling the sub-licences of
an industry, issued by different departments in any order.

When the last missing part is issued, the composite is generated automatically by the
department that issues the composite type. Its request id is fixed per subject and type, so
two parts issued at the same moment still produce it exactly once (the unique index on
issuer + request id). Revoking or suspending a part makes the composite not valid and names
the part; revoking the composite revokes nothing else.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pymongo.database import Database

from services.certs.catalogue import get_type
from services.certs.certificates import current_status, face, issue
from services.common.codec import city_day
from services.common.mongo import Document


def latest(db: Database[Document], number: str) -> Document | None:
    found = list(db.certificates.find({"number": number}).sort("version", -1).limit(1))
    return found[0] if found else None


def assemble_after(
    db: Database[Document], wrap_key: bytes, now: datetime, part: dict[str, Any]
) -> list[dict[str, Any]]:
    """Composites that ``part`` completes for its subject (newly issued ones only)."""
    created = []
    for composite in db.cert_types.find({"sub_types": part["type"]}):
        parts = []
        for sub_type in composite["sub_types"]:
            found = db.certificates.find_one(
                {"subject": part["subject"], "type": sub_type, "status": "valid"},
                sort=[("issued_at", -1)],
            )
            if found is None or current_status(found, city_day(now)) != "valid":
                break
            parts.append(found)
        else:
            issuer = db.issuers.find_one({"types": composite["_id"]})
            if issuer is None:
                continue
            holder = {
                "id": part["subject"],
                "kind": composite["subject_type"],
                "name": part["fields"]["holder_name"],
                "org_path": parts[0].get("holder_unit"),
            }
            certificate, new = issue(
                db,
                wrap_key,
                "system:composite",
                now,
                holder,
                issuer,
                composite["_id"],
                {"parts": [p["number"] for p in parts]},
                f"composite:{part['subject']}:{composite['_id']}",
            )
            if new:
                created.append(certificate)
    return created


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
        entry = {
            "number": number,
            "type": part["type"],
            "name": kind["names"]["zh"],
            "status": status,
            "face": face(part, kind),
        }
        shown.append(entry)
        if status != "valid":
            failed.append(
                {
                    "number": number,
                    "type": part["type"],
                    "name": kind["names"]["zh"],
                    "status": status,
                }
            )
    return {"parts": shown, "failed_parts": failed, "all_valid": not failed}
