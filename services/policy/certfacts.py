"""Facts policy learns from certificate events: ``cert_{type}`` is the status of the
subject's certificate of that type (valid, suspended, revoked, expired), and a valid
certificate's face adds its own facts (a disability certificate's category and grade).
When a certificate stops being valid its face facts are forgotten (unknown), while the
status fact says why."""

from __future__ import annotations

from typing import Any

FACE_FACTS = {
    "disability_certificate": {"category": "disability_category", "grade": "disability_grade"},
    "high_tech_enterprise": {},
}
EVENT_STATUS = {
    "cert_issued": None,  # the payload's own status
    "cert_amended": None,
    "cert_resumed": "valid",
    "cert_suspended": "suspended",
    "cert_revoked": "revoked",
    "cert_expired": "expired",
}


def facts_from(event_type: str, payload: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """(facts to set, facts to forget) for one certificate event."""
    kind = str(payload["type"])
    status = EVENT_STATUS.get(event_type) or str(payload.get("status", "valid"))
    values: dict[str, Any] = {f"cert_{kind}": status}
    face_facts = FACE_FACTS.get(kind, {})
    if status == "valid":
        face = payload.get("face") or {}
        values.update({fact: face[field] for field, fact in face_facts.items() if field in face})
        if kind == "high_tech_enterprise":
            values["is_high_tech"] = True
        return values, []
    if kind == "high_tech_enterprise":
        values["is_high_tech"] = False
    return values, list(face_facts.values())
