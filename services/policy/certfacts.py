"""Facts policy learns from certificate events: ``cert_{type}`` is the status of the
subject's certificate of that type (valid, suspended, revoked, expired; a composite licence
with a part not valid: invalid), and a valid
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
    "cert_started": None,  # a certificate issued ahead of its first day reached it
    "cert_parts_changed": None,  # a composite licence: invalid while a part is not valid
    "cert_resumed": "valid",
    "cert_suspended": "suspended",
    "cert_revoked": "revoked",
    "cert_expired": "expired",
}


# Which of a subject's certificates of a type its facts follow: the one in force, else a
# suspended one, else one not yet valid, else one that ended; of two alike the later start.
RANK = {"valid": 5, "suspended": 4, "not_yet_valid": 3, "expired": 2, "invalid": 1, "revoked": 1}


def entry_of(event_type: str, payload: dict[str, Any]) -> dict[str, Any]:
    """What one event says of its certificate (one number), with its order: version, then
    revision, expiry after the revision it found (zero-padded, so it compares as text)."""
    expiry = 1 if event_type == "cert_expired" else 0
    order = f"{int(payload.get('version') or 1):06d}.{int(payload.get('rev') or 0):06d}.{expiry}"
    return {
        "order": order,
        "status": EVENT_STATUS.get(event_type) or str(payload.get("status", "valid")),
        "face": payload.get("face") or {},
        "valid_from": str(payload.get("valid_from") or ""),
    }


def followed(entries: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """The certificate the facts follow, whatever order the events came in."""
    if not entries:
        return None
    number = max(
        entries,
        key=lambda n: (RANK.get(entries[n]["status"], 0), entries[n]["valid_from"], n),
    )
    return entries[number]


def facts_from(event_type: str, payload: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """(facts to set, facts to forget) for one certificate event."""
    status = EVENT_STATUS.get(event_type) or str(payload.get("status", "valid"))
    return facts_of(str(payload["type"]), status, payload.get("face") or {})


def facts_of(kind: str, status: str, face: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """(facts to set, facts to forget) for a subject whose certificate of ``kind`` is in
    ``status`` with ``face``."""
    values: dict[str, Any] = {f"cert_{kind}": status}
    face_facts = FACE_FACTS.get(kind, {})
    if status == "valid":
        values.update({fact: face[field] for field, fact in face_facts.items() if field in face})
        if kind == "high_tech_enterprise":
            values["is_high_tech"] = True
        return values, []
    if kind == "high_tech_enterprise":
        values["is_high_tech"] = False
    return values, list(face_facts.values())
