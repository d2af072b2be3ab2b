"""The jurisdiction tree (辖区): org units stored as materialized paths.

``CN-LN-SY/HP/NH`` is street NH of district HP of city CN-LN-SY. Departments attach at any
level; every other kind sits strictly below its parent's level.
"""

from __future__ import annotations

import re
from typing import Any

from services.common.access import Guard
from services.common.actor import ancestors
from services.common.codec import to_wire, utcnow
from services.common.document import Document
from services.common.errors import Conflict, InvalidInput, NotFound
from services.identity import access
from services.identity.store import IdentityStore

LEVELS = {"province": 1, "city": 2, "district": 3, "street": 4, "community": 5}
KINDS = frozenset({*LEVELS, "department"})
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,31}\Z")


def child_path(parent: str | None, code: str) -> str:
    return code if parent is None else f"{parent}/{code}"


def validate_new_unit(parent: Document | None, code: str, name: str, kind: str) -> None:
    if not isinstance(code, str) or not _CODE.match(code):
        raise InvalidInput("1–32 letters, digits or hyphens", field="code")
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        raise InvalidInput("a name of 1–100 characters is required", field="name")
    if kind not in KINDS:
        raise InvalidInput(f"one of {', '.join(sorted(KINDS))}", field="kind")
    if parent is not None and kind != "department":
        parent_level = LEVELS.get(parent["kind"])
        if parent_level is None:
            raise InvalidInput("only departments can sit below a department", field="kind")
        if LEVELS[kind] <= parent_level:
            raise InvalidInput(f"a {kind} cannot sit below a {parent['kind']}", field="kind")


def view(unit: Document) -> dict[str, Any]:
    return to_wire(
        {
            "path": unit["_id"],
            "code": unit["code"],
            "name": unit["name"],
            "kind": unit["kind"],
            "parent": unit.get("parent"),
            "depth": unit["depth"],
        }
    )


def create_org_unit(
    store: IdentityStore, guard: Guard, parent: str | None, code: str, name: str, kind: str
) -> dict[str, Any]:
    """Below a unit of the caller's jurisdiction; a root unit (a city) only by an
    administrator."""
    guard.require(access.org_unit_or_root(parent), "no such org unit", field="parent")
    parent_doc = None
    if parent is not None:
        parent_doc = store.load_org_unit(parent)
        if parent_doc is None:
            raise NotFound("no such org unit", field="parent")
    validate_new_unit(parent_doc, code, name, kind)
    path = child_path(parent, code)
    unit = {
        "_id": path,
        "code": code,
        "name": name.strip(),
        "kind": kind,
        "parent": parent,
        "ancestors": ancestors(path),
        "depth": path.count("/"),
        "created_at": utcnow(),
        "created_by": guard.actor.account_id,
    }
    if not store.insert_org_unit(unit):
        raise Conflict("an org unit with this code already exists here", field="code")
    return view(unit)


def get_org_unit(store: IdentityStore, guard: Guard, path: str) -> dict[str, Any]:
    """Staff read the units of their jurisdiction; everyone reads their own unit and those
    above it (their names appear on their pages); services read any (to check a binding)."""
    unit = store.load_org_unit(path) if isinstance(path, str) else None
    if unit is None:
        raise NotFound("no such org unit")
    guard.require(access.org_unit(path), "no such org unit")
    return view(unit)


def list_org_units(store: IdentityStore, guard: Guard, root: str | None) -> list[dict[str, Any]]:
    """The subtree under ``root`` (default: the caller's own unit), ordered by path."""
    root = root or guard.actor.org_path
    guard.require(access.org_unit_or_root(root), "no such org unit", field="root")
    return [view(u) for u in store.org_units_within(root)]


def find_org_units(
    store: IdentityStore, guard: Guard, text: str, limit: int = 20
) -> list[dict[str, Any]]:
    """Units of the caller's jurisdiction whose name or code contains ``text`` (a clerk
    types 三好社区, not CN-LN-SY/HP/NH/SD)."""
    root = guard.reach()
    if root is None:
        return []
    needle = text.strip() if isinstance(text, str) else ""
    if not needle or len(needle) > 50:
        raise InvalidInput("1–50 characters to look for", field="text")
    found = []
    for unit in store.org_units_within(root):
        if needle in unit["name"] or needle.lower() in unit["code"].lower():
            found.append(view(unit))
            if len(found) >= max(1, min(int(limit), 50)):
                break
    return found


def require_unit(store: IdentityStore, path: str, field: str) -> Document:
    unit = store.load_org_unit(path)
    if unit is None:
        raise NotFound("no such org unit", field=field)
    return unit
