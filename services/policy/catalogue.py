"""Which policies are published, read by ``_id``: one small document per subject kind
(``published:person``) lists them with the facts each reads, rebuilt whenever a policy
changes status. A published policy's rules never change (a change is a new version), so a
process keeps the policies it has read in memory; re-matching one subject then costs one
``_id`` read instead of a scan of every policy (FerretDB reads whole collections for any
other filter)."""

from __future__ import annotations

from typing import Any

from pymongo.database import Database

from services.common.mongo import Document

_RULES: dict[str, Document] = {}  # policy id → its published document (immutable rules)


def rebuild(db: Database[Document]) -> None:
    """After a status change (and now and then, to heal a rebuild that raced another)."""
    by_kind: dict[str, list[dict[str, Any]]] = {"person": [], "organisation": []}
    for policy in db.policies.find({"status": "published"}, {"subject_type": 1, "reads": 1}):
        by_kind.setdefault(policy["subject_type"], []).append(
            {"id": policy["_id"], "reads": policy.get("reads", [])}
        )
    for kind, listed in by_kind.items():
        db.published.replace_one(
            {"_id": f"published:{kind}"},
            {"policies": sorted(listed, key=lambda p: p["id"])},
            upsert=True,
        )


def published(db: Database[Document], kind: str, reading: set[str] | None = None) -> list[Document]:
    """The published policies for ``kind`` (only those reading one of ``reading``, if given)."""
    index = db.published.find_one({"_id": f"published:{kind}"})
    if index is None:
        rebuild(db)
        index = db.published.find_one({"_id": f"published:{kind}"}) or {"policies": []}
    result = []
    for entry in index["policies"]:
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
