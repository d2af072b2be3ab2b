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

from services.common.document import Document
from services.policy.store import PolicyStore

_RULES: dict[str, Document] = {}  # policy id → its published document (immutable rules)
_INDEX: dict[str, tuple[str, list[dict[str, Any]]]] = {}  # kind → (revision, entries)


def rebuild(store: PolicyStore) -> None:
    """After a status change (and now and then, to heal a rebuild that raced another)."""
    by_kind: dict[str, list[dict[str, Any]]] = {"person": [], "organisation": []}
    for policy in store.published_policies():
        by_kind.setdefault(policy["subject_type"], []).append(
            {"id": policy["_id"], "reads": policy.get("reads", [])}
        )
    for kind, listed in by_kind.items():
        entries = sorted(listed, key=lambda p: p["id"])
        store.write_catalogue(kind, entries, secrets.token_hex(8))


def published(store: PolicyStore, kind: str, reading: set[str] | None = None) -> list[Document]:
    """The published policies for ``kind`` (only those reading one of ``reading``, if given)."""
    result = []
    for entry in _index(store, kind):
        if reading is not None and not reading & set(entry["reads"]):
            continue
        policy = _RULES.get(entry["id"])
        if policy is None:
            policy = store.load_policy(entry["id"])
            if policy is None:
                continue
            _RULES[entry["id"]] = policy
        result.append({**policy, "status": "published"})
    return result


def _index(store: PolicyStore, kind: str) -> list[dict[str, Any]]:
    """The index for ``kind``, read again only when its revision changed (the revision is
    written after the index, so a reader never pairs a new revision with an old index)."""
    revision = store.catalogue_revision(kind)
    if revision is None:
        rebuild(store)
        revision = store.catalogue_revision(kind) or ""
    cached = _INDEX.get(kind)
    if cached is not None and cached[0] == revision:
        return cached[1]
    entries = store.catalogue_entries(kind)
    _INDEX[kind] = (revision, entries)
    return entries
