"""Subject profiles for other services (policy): the pseudonymous id, kind, org unit and, for
persons, the birth date (age-based rules need it); never a name or an ID number. Announced
as ``subject_registered`` and listable page by page for a service that starts late."""

from __future__ import annotations

from typing import Any

from services.common.document import Document
from services.identity.store import IdentityStore


def profile(subject: Document) -> dict[str, Any]:
    kind = "person" if str(subject["_id"]).startswith("p_") else "organisation"
    result = {"subject": subject["_id"], "kind": kind, "org_path": subject["org_path"]}
    if kind == "person":
        result["birth_date"] = subject["birth_date"]
    return result


def profile_of_view(view: dict[str, Any]) -> dict[str, Any]:
    result = {"subject": view["id"], "kind": view["kind"], "org_path": view["org_path"]}
    if view["kind"] == "person":
        result["birth_date"] = view["birth_date"]
    return result


def list_profiles(store: IdentityStore, after: str, limit: int) -> list[dict[str, Any]]:
    """Persons then organisations (``p_…`` < ``o_…`` is not the order: ``o`` < ``p``), by id."""
    limit = max(1, min(int(limit), 5000))
    projection = {"org_path": 1, "birth_date": 1}
    found = [profile(s) for s in store.subjects_after(after, projection, limit)]
    return sorted(found, key=lambda p: p["subject"])[:limit]
