"""identity's store in memory: every method of :class:`services.identity.store.IdentityStore`,
on dicts, for unit tests of the domain (tests/integration/identity/test_store.py tries the
real one on FerretDB). Unique keys are kept as the database keeps them: a username, an ID
number's hash, a credit code's hash, a scan's dedupe key."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.common import signing_keys
from services.common.document import Document
from services.common.errors import Conflict
from services.identity.store import IdentityStore
from tests.unit.memory import MemoryClaims, project

UNIQUE = {
    "accounts": "username",
    "persons": "id_number.hash",
    "organisations": "credit_code.hash",
    "scans": "dedupe_key",
}


def _value(document: Document, path: str) -> Any:
    for part in path.split("."):
        document = document.get(part) if isinstance(document, dict) else None
    return document


@dataclass
class MemoryRing:
    keys: dict[str, Document] = field(default_factory=dict)

    def documents(self) -> list[Document]:
        return [dict(d) for d in self.keys.values()]

    def in_slot(self, slot: str) -> Document | None:
        return next((dict(d) for d in self.keys.values() if d.get("slot") == slot), None)

    def add(self, document: Document) -> bool:
        if document["_id"] in self.keys or self.in_slot(document["slot"]) is not None:
            return False
        self.keys[document["_id"]] = dict(document)
        return True

    def change(self, kid: str, changes: Document) -> None:
        self.keys[kid].update(changes)


class MemoryIdentityStore(MemoryClaims, IdentityStore):
    def __init__(self) -> None:
        super().__init__()
        self.rings: dict[str, MemoryRing] = {}

    @property
    def name(self) -> str:
        return f"memory-{id(self)}"

    def _unique_insert(self, name: str, document: Document) -> bool:
        key = UNIQUE.get(name)
        if key is not None and _value(document, key) is not None:
            wanted = _value(document, key)
            if any(_value(d, key) == wanted for d in self.collections.get(name, {}).values()):
                return False
        return self._insert_once(name, document)

    def _find(self, name: str, **wanted: Any) -> list[Document]:
        return [d for d in self._all(name) if all(_value(d, k) == v for k, v in wanted.items())]

    # key rings

    def key_ring(self, name: str) -> signing_keys.KeyRing:
        return self.rings.setdefault(name, MemoryRing())

    # accounts and logins

    def insert_account(self, account: Document) -> bool:
        return self._unique_insert("accounts", account)

    def ensure_account(self, account: Document) -> bool:
        if self.account_by_username(account["username"]) is not None:
            return False
        return self.insert_account(account)

    def load_account(self, account_id: str, fields: Document | None = None) -> Document | None:
        return self._get("accounts", account_id, fields)

    def account_by_username(self, username: str) -> Document | None:
        return next(iter(self._find("accounts", username=username)), None)

    def accounts_within(self, root: str, offset: int, limit: int) -> list[Document]:
        found = [a for a in self._all("accounts") if not root or root in a["org_ancestors"]]
        return found[offset : offset + limit]

    def update_account(self, account_id: str, changes: Document) -> None:
        self._update("accounts", account_id, changes)

    def login_pair(self, pair: str) -> Document:
        return self._get("login_pairs", pair) or {}

    def put_login_pair(self, pair: str, record: Document) -> None:
        self._put("login_pairs", {**record, "_id": pair})

    def login_lock(self, key: str) -> Document | None:
        return self._get("login_locks", key)

    def lock_login(self, key: str, until: datetime) -> None:
        self._put("login_locks", {"_id": key, "until": until})

    # persons and organisations

    def load_person(self, person_id: str, fields: Document | None = None) -> Document | None:
        return self._get("persons", person_id, fields)

    def load_organisation(self, org_id: str, fields: Document | None = None) -> Document | None:
        return self._get("organisations", org_id, fields)

    def load_subject(self, sub: str, fields: Document | None = None) -> Document | None:
        return self._get("persons" if sub.startswith("p_") else "organisations", sub, fields)

    def insert_person(self, person: Document) -> bool:
        return self._unique_insert("persons", person)

    def insert_organisation(self, organisation: Document) -> bool:
        return self._unique_insert("organisations", organisation)

    def delete_person(self, person_id: str) -> None:
        self._delete("persons", person_id)

    def person_by_number(self, number_hash: str) -> Document | None:
        found = [p for p in self._all("persons") if _value(p, "id_number.hash") == number_hash]
        return next(iter(found), None)

    def organisation_by_code(self, code_hash: str) -> Document | None:
        found = [
            o for o in self._all("organisations") if _value(o, "credit_code.hash") == code_hash
        ]
        return next(iter(found), None)

    def update_subject(self, sub: str, changes: Document) -> None:
        self._update("persons" if sub.startswith("p_") else "organisations", sub, changes)

    def persons_within(self, root: str, offset: int, limit: int) -> list[Document]:
        found = [p for p in self._all("persons") if root in p.get("org_ancestors", [])]
        found.sort(key=lambda p: p["_id"])
        found.sort(key=lambda p: p["created_at"], reverse=True)
        return found[offset : offset + limit]

    def person_names(self, ids: Iterable[str]) -> dict[str, str]:
        return {p["_id"]: p["name"] for i in set(ids) if (p := self._get("persons", i))}

    def persons_by_ids(self, ids: Iterable[str], fields: Document) -> list[Document]:
        return [p for i in sorted(set(ids)) if (p := self._get("persons", i, fields))]

    def organisations_by_ids(self, ids: Iterable[str]) -> dict[str, Document]:
        return {o["_id"]: o for i in sorted(set(ids)) if (o := self._get("organisations", i))}

    def subjects_after(self, after: str, fields: Document, limit: int) -> list[Document]:
        found: list[Document] = []
        for name in ("organisations", "persons"):
            found += [s for s in self._all(name, fields) if s["_id"] > after][:limit]
        return found

    # operators of organisations

    def insert_operator(self, link: Document) -> None:
        if not self._insert_once("org_operators", link):
            raise KeyError(link["_id"])

    def put_operator(self, link: Document) -> None:
        self._put("org_operators", {**(self._get("org_operators", link["_id"]) or {}), **link})

    def operator_link(self, link_id: str) -> Document | None:
        return self._get("org_operators", link_id)

    def operator_links(self, account_id: str | None, subject_id: str | None) -> list[Document]:
        return [
            link
            for link in self._all("org_operators")
            if (account_id and link.get("account_id") == account_id)
            or (subject_id and link.get("subject_id") == subject_id)
        ]

    # org units

    def load_org_unit(self, path: str, fields: Document | None = None) -> Document | None:
        return self._get("org_units", path, fields)

    def insert_org_unit(self, unit: Document) -> bool:
        return self._insert_once("org_units", unit)

    def org_units_within(self, root: str | None) -> list[Document]:
        return [u for u in self._all("org_units") if not root or root in u["ancestors"]]

    def org_unit_names(self, paths: Iterable[str]) -> dict[str, str]:
        return {u["_id"]: u["name"] for p in set(paths) if (u := self._get("org_units", p))}

    # delegations and what proxies did

    def insert_delegation(self, delegation: Document) -> None:
        self._insert_once("delegations", delegation)

    def load_delegation(self, delegation_id: str) -> Document | None:
        return self._get("delegations", delegation_id)

    def advance_delegation(self, delegation: Document, update: Document, now: datetime) -> Document:
        current = self._get("delegations", delegation["_id"]) or {}
        if current.get("rev", 0) != delegation.get("rev", 0):
            raise Conflict("someone else changed it at the same time", state=current.get("status"))
        changed = {**current, **update.get("$set", {}), "rev": int(current.get("rev", 0)) + 1}
        self._put("delegations", changed)
        return project(changed, None)

    def guardianships(self, ward: str, guardian: str) -> list[Document]:
        return self._find("delegations", principal=ward, proxy=guardian, kind="guardian")

    def delegations_of(self, sub: str) -> list[Document]:
        found = [d for d in self._all("delegations") if sub in (d["principal"], d["proxy"])]
        return sorted(found, key=lambda d: d["created_at"], reverse=True)

    def delegations_to(self, proxy: str) -> list[Document]:
        return self._find("delegations", proxy=proxy)

    def record_proxy_action(self, action: Document) -> None:
        self._insert_once("proxy_actions", action)

    def proxy_actions(self, role: str, sub: str, limit: int) -> list[Document]:
        found = sorted(self._find("proxy_actions", **{role: sub}), key=lambda a: a["at"])
        return list(reversed(found))[:limit]

    # disclosures and texts

    def record_disclosure(self, disclosure: Document) -> None:
        self._insert_once("disclosures", disclosure)

    def disclosures_of(self, principal: str, limit: int) -> list[Document]:
        found = sorted(self._find("disclosures", principal=principal), key=lambda d: d["at"])
        return list(reversed(found))[:limit]

    def insert_notification(self, notification: Document) -> bool:
        return self._insert_once("notifications", notification)

    def due_notification(self, notification_id: str, now: datetime) -> Document | None:
        found = self._get("notifications", notification_id)
        due = found is not None and found["state"] == "pending" and found["next_at"] <= now
        return found if due else None

    def update_notification(self, notification_id: str, changes: Document) -> None:
        self._update("notifications", notification_id, changes)

    def due_notifications(self, now: datetime, limit: int) -> list[str]:
        found = self._all("notifications")
        return [n["_id"] for n in found if n["state"] == "pending" and n["next_at"] <= now][:limit]

    # scans of codes

    def record_scan(self, scan: Document) -> bool:
        return self._unique_insert("scans", scan)

    def load_scan(self, scan_id: str) -> Document | None:
        return self._get("scans", scan_id)

    def scans_of(self, subjects: list[str], before: datetime | None, limit: int) -> list[Document]:
        found = [
            s
            for s in self._all("scans")
            if s["sub"] in subjects and (before is None or s["at"] < before)
        ]
        return sorted(found, key=lambda s: (s["at"], s["_id"]), reverse=True)[:limit]

    # printed cards

    def insert_card(self, card: Document) -> None:
        if not self._insert_once("printed_codes", card):
            raise KeyError(card["_id"])

    def revoke_cards_before(self, sub: str, card: Document, now: datetime) -> None:
        for other in self._find("printed_codes", sub=sub, status="active"):
            earlier = (other["issued_at"], other["_id"]) < (card["issued_at"], card["_id"])
            if earlier:
                self._update(
                    "printed_codes", other["_id"], {"status": "revoked", "revoked_at": now}
                )

    def active_card(self, sub: str) -> Document | None:
        return next(iter(self._find("printed_codes", sub=sub, status="active")), None)

    def load_card(self, card_id: str) -> Document | None:
        return self._get("printed_codes", card_id)

    def card_places(self) -> list[Document]:
        fields = {"idx": 1, "status": 1, "sub": 1}
        return [c for c in self._all("printed_codes", fields) if "idx" in c]
