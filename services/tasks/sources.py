"""Task sources (任务来源): where tasks come from. A disabled source cannot create tasks."""

from __future__ import annotations

import re
from typing import Any

from services.common.codec import to_wire, utcnow
from services.common.document import Document
from services.common.errors import Conflict, InvalidInput, NotFound
from services.common.text import text
from services.tasks.store import TaskStore

SEED = {
    "hotline_12345": "12345 政务服务便民热线",
    "national_platform": "国家“互联网+监管”平台",
    "risk_alert": "风险预警",
    "complaint": "投诉举报",
    "policy_review": "政策数据校正",
    "policy_unreceived": "应享未享",
    "manual": "人工录入",
}
_CODE = re.compile(r"^[a-z][a-z0-9_]{1,39}\Z")


def seed(store: TaskStore, _config: Any) -> None:
    for code, name in SEED.items():
        store.insert_source({"_id": code, "name": name, "enabled": True, "at": utcnow()})


def view(source: Document) -> dict[str, Any]:
    return to_wire({"code": source["_id"], "name": source["name"], "enabled": source["enabled"]})


def list_sources(store: TaskStore) -> list[dict[str, Any]]:
    return [view(s) for s in store.sources()]


def add_source(store: TaskStore, code: str, name: str) -> dict[str, Any]:
    if not isinstance(code, str) or not _CODE.match(code):
        raise InvalidInput("2–40 lowercase letters, digits or _", field="code")
    source = {"_id": code, "name": text(name, "name", 100), "enabled": True, "at": utcnow()}
    if not store.insert_source(source):
        raise Conflict("a source with this code exists", field="code")
    return view(source)


def edit_source(
    store: TaskStore, code: str, name: str | None, enabled: bool | None
) -> dict[str, Any]:
    changes: Document = {}
    if name is not None:
        changes["name"] = text(name, "name", 100)
    if enabled is not None:
        changes["enabled"] = bool(enabled)
    source = store.load_source(code) if isinstance(code, str) else None
    if source is None:
        raise NotFound("no such source", field="code")
    if changes:
        store.update_source(code, changes)
    return view({**source, **changes})


def require_enabled(store: TaskStore, code: str) -> Document:
    source = store.load_source(code) if isinstance(code, str) else None
    if source is None:
        raise InvalidInput("no such task source", field="source")
    if not source["enabled"]:
        raise Conflict("this task source is disabled", field="source", code="source_disabled")
    return source
