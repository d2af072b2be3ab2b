"""Who is acting: the claims the gateway verified, carried to services in the signed
``nameko.actor`` header (:mod:`services.common.bus_identity`); what they may do is the
access model's to decide (:mod:`services.common.access`).

Jurisdiction is a materialized path such as ``CN-LN-SY/HP/NH``: an actor reaches its own
org unit and everything below it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

# Every role, in the order tables list them.
ROLE_ORDER = (
    "citizen",
    "enterprise",
    "staff",
    "supervisor",
    "assessor",
    "auditor",
    "verifier",
    "partner",
    "admin",
)
ROLES = frozenset(ROLE_ORDER)
STAFF_ROLES = frozenset({"staff", "supervisor", "admin"})


def within(path: str, root: str) -> bool:
    """True when ``path`` is ``root`` or below it."""
    return path == root or path.startswith(root + "/")


def ancestors(path: str) -> list[str]:
    """``A/B/C`` → ``["A", "A/B", "A/B/C"]``: stored on documents for indexable subtree queries."""
    parts = path.split("/")
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


@dataclass(frozen=True)
class Actor:
    account_id: str | None = None
    roles: tuple[str, ...] = ()
    org_path: str | None = None
    subject_id: str | None = None
    client_id: str | None = None
    scopes: tuple[str, ...] = ()
    on_behalf_of: str | None = None
    name: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def system(cls, name: str = "system") -> Actor:
        return cls(account_id=f"system:{name}", roles=("admin",), name=name)

    def has_role(self, *roles: str) -> bool:
        return any(role in self.roles for role in roles)

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    @property
    def is_staff(self) -> bool:
        return self.has_role(*STAFF_ROLES)

    def to_header(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_header(cls, value: str | bytes | None) -> Actor:
        return cls.from_mapping(json.loads(value)) if value else cls()

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> Actor:
        return cls(
            account_id=data.get("account_id"),
            roles=tuple(data.get("roles") or ()),
            org_path=data.get("org_path"),
            subject_id=data.get("subject_id"),
            client_id=data.get("client_id"),
            scopes=tuple(data.get("scopes") or ()),
            on_behalf_of=data.get("on_behalf_of"),
            name=data.get("name"),
            extra=dict(data.get("extra") or {}),
        )
