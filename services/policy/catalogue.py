"""Which policies are published, read by ``_id``: one small document per subject kind
(``published:person``) lists them with the facts each reads, rebuilt whenever a policy
changes status, with a tiny revision document beside it (``published-rev:person``). A
published policy's rules never change (a change is a new version), so a process keeps the
policies and the index it has read in memory, and reads only the revision to know the index
is still current; re-matching one subject then costs one small ``_id`` read instead of a scan
of every policy (FerretDB reads whole collections for any other filter) or a read of the
whole index."""

from __future__ import annotations

import secrets
from typing import Any

from pymongo.database import Database

from services.common.mongo import Document, put_document

_RULES: dict[str, Document] = {}  # policy id → its published document (immutable rules)
_INDEX: dict[str, tuple[str, list[dict[str, Any]]]] = {}  # kind → (revision, entries)


def rebuild(db: Database[Document]) -> None:
    """After a status change (and now and then, to heal a rebuild that raced another)."""
    by_kind: dict[str, list[dict[str, Any]]] = {"person": [], "organisation": []}
    for policy in db.policies.find({"status": "published"}, {"subject_type": 1, "reads": 1}):
        by_kind.setdefault(policy["subject_type"], []).append(
            {"id": policy["_id"], "reads": policy.get("reads", [])}
        )
    for kind, listed in by_kind.items():
        listing = {"policies": sorted(listed, key=lambda p: p["id"])}
        put_document(db.published, f"published:{kind}", listing)
        put_document(db.published, f"published-rev:{kind}", {"rev": secrets.token_hex(8)})


def published(db: Database[Document], kind: str, reading: set[str] | None = None) -> list[Document]:
    """The published policies for ``kind`` (only those reading one of ``reading``, if given)."""
    result = []
    for entry in _index(db, kind):
        if reading is not None and not reading & set(entry["reads"]):
            continue
        policy = _RULES.get(entry["id"])
        if policy is None:
            policy = db.policies.find_one({"_id": entry["id"]})
            if policy is None:
                continue
            _RULES[entry["id"]] = policy
        result.append({**policy, "status": "published"})
    return result


def _index(db: Database[Document], kind: str) -> list[dict[str, Any]]:
    """The index for ``kind``, read again only when its revision changed (the revision is
    written after the index, so a reader never pairs a new revision with an old index)."""
    revision = db.published.find_one({"_id": f"published-rev:{kind}"})
    if revision is None:
        rebuild(db)
        revision = db.published.find_one({"_id": f"published-rev:{kind}"}) or {"rev": ""}
    cached = _INDEX.get(kind)
    if cached is not None and cached[0] == revision["rev"]:
        return cached[1]
    index = db.published.find_one({"_id": f"published:{kind}"}) or {"policies": []}
    entries: list[dict[str, Any]] = index["policies"]
    _INDEX[kind] = (revision["rev"], entries)
    return entries
