"""The catalogue of fact kinds (as OpenFisca declares its variables): every fact a policy may
read and a feed may write is declared, with a label people read, a type, its one source
(:mod:`services.policy.provenance`) and, for numbers, a range, for texts the values allowed.

A policy that reads a fact nobody declared (a misspelling) is refused when it is written,
422 ``unknown_fact`` naming the check. A write of an undeclared fact, or of a value of the
wrong type or out of range, is refused naming the fact (in a batch: that line only).

The built-in kinds are those of identity, certificates and the feeds a city starts with;
staff declare further feed facts (``POST /v1/fact-kinds``), each name once, owned by the
unit that declared it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from services.common.codec import to_wire
from services.common.document import Document
from services.common.errors import Conflict, InvalidInput
from services.common.text import text
from services.policy import provenance
from services.policy.store import PolicyStore
from services.policy.work import Work

TYPES = ("money", "integer", "number", "boolean", "text", "texts", "date")
MAX_MAGNITUDE = 2**53
_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
CERT_STATUSES = ("valid", "suspended", "revoked", "expired", "not_yet_valid", "invalid")


@dataclass(frozen=True)
class FactKind:
    name: str
    label: str
    type: str
    source: str
    minimum: float | None = None
    maximum: float | None = None
    values: tuple[str, ...] = field(default=())
    owner: str | None = None

    def view(self) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "source": self.source,
        }
        if self.minimum is not None:
            shown["minimum"] = self.minimum
        if self.maximum is not None:
            shown["maximum"] = self.maximum
        if self.values:
            shown["values"] = list(self.values)
        if self.owner:
            shown["owner"] = self.owner
        return shown


def _kind(name: str, label: str, kind: str, source: str = provenance.FEED, **more: Any) -> FactKind:
    return FactKind(name, label, kind, source, **more)


IDENTITY, CERTS, FEED = provenance.IDENTITY, provenance.CERTS, provenance.FEED
BUILT_IN = {
    k.name: k
    for k in (
        _kind("subject_type", "主体类型", "text", IDENTITY, values=("person", "organisation")),
        _kind("org_unit", "所属辖区", "text", IDENTITY),
        _kind("birth_date", "出生日期", "date", IDENTITY),
        _kind("age", "年龄", "integer", IDENTITY, minimum=0, maximum=150),
        _kind(
            "disability_category",
            "残疾类别",
            "text",
            CERTS,
            values=("视力", "听力", "言语", "肢体", "智力", "精神", "多重"),
        ),
        _kind(
            "disability_grade", "残疾等级", "text", CERTS, values=("一级", "二级", "三级", "四级")
        ),
        _kind("is_high_tech", "高新技术企业", "boolean", CERTS),
        _kind("device_price", "辅具评估价格（分）", "money", maximum=100_000_000),
        _kind("low_income", "低保家庭", "boolean"),
        _kind("monthly_income", "家庭月收入（分）", "money"),
        _kind("household_size", "家庭人口数", "integer", minimum=1, maximum=50),
        _kind("employees", "从业人数", "integer", minimum=0, maximum=10_000_000),
        _kind("rd_expense", "研发投入（分）", "money"),
        _kind("revenue", "营业收入（分）", "money"),
        _kind("tax_paid", "纳税额（分）", "money"),
        _kind("registered_capital_fen", "注册资本（分）", "money"),
    )
}


def kind_of(store: PolicyStore, name: str) -> FactKind | None:
    """The declared kind ``name``, or None. ``cert_<type>`` is the status of the subject's
    certificate of that type, stated by certs."""
    if name in BUILT_IN:
        return BUILT_IN[name]
    if name.startswith("cert_") and _NAME.fullmatch(name):
        return _kind(name, "证照状态", "text", CERTS, values=CERT_STATUSES)
    found = store.load_fact_kind(name) if _NAME.fullmatch(name) else None
    return _from_document(found) if found else None


def _from_document(found: Document) -> FactKind:
    return FactKind(
        name=found["_id"],
        label=found["label"],
        type=found["type"],
        source=FEED,
        minimum=found.get("minimum"),
        maximum=found.get("maximum"),
        values=tuple(found.get("values") or ()),
        owner=found.get("owner"),
    )


def declared(store: PolicyStore) -> Callable[[str], bool]:
    """A test of whether a name is declared, reading each name once."""
    seen: dict[str, bool] = {}

    def known(name: str) -> bool:
        if name not in seen:
            seen[name] = kind_of(store, name) is not None
        return seen[name]

    return known


def first_undeclared(node: Any, where: str, known: Callable[[str], bool]) -> tuple[str, str] | None:
    """(the path of the first check or amount reading an undeclared fact, the fact)."""
    if isinstance(node, Mapping):
        for key in ("fact", "of"):
            name = node.get(key)
            if isinstance(name, str) and not known(name):
                return f"{where}.{key}", name
        for key, value in node.items():
            found = first_undeclared(value, f"{where}.{key}", known)
            if found:
                return found
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found = first_undeclared(value, f"{where}[{i}]", known)
            if found:
                return found
    return None


def require_declared(store: PolicyStore, definition: Mapping[str, Any]) -> None:
    """Refuse a policy that reads a fact nobody declared, naming the check that reads it."""
    known = declared(store)
    for part in ("conditions", "amount"):
        found = first_undeclared(definition.get(part), part, known)
        if found:
            where, name = found
            raise InvalidInput(
                f"no fact kind is named {name}: correct the spelling, or declare it first",
                field=where,
                code="unknown_fact",
            )


def check_values(store: PolicyStore, values: Mapping[str, Any], prefix: str = "facts") -> None:
    """Refuse (422 naming the fact) an undeclared fact or a value its kind does not allow."""
    for name, value in values.items():
        kind = kind_of(store, name)
        where = f"{prefix}.{name}"
        if kind is None:
            raise InvalidInput(
                f"no fact kind is named {name}; declare it first", field=where, code="unknown_fact"
            )
        problem = value_problem(kind, value)
        if problem:
            raise InvalidInput(problem, field=where, code="fact_value")


def value_problem(kind: FactKind, value: Any) -> str | None:
    """What is wrong with ``value`` for ``kind`` (None: nothing)."""
    if kind.type == "boolean":
        return None if isinstance(value, bool) else "true or false"
    if kind.type in ("money", "integer", "number"):
        whole = kind.type != "number"
        if isinstance(value, bool) or not isinstance(value, int | float):
            return "a number" + (" of fen" if kind.type == "money" else "")
        if whole and (isinstance(value, float) and not value.is_integer()):
            return "a whole number" + (" of fen" if kind.type == "money" else "")
        low = 0 if kind.type == "money" and kind.minimum is None else kind.minimum
        high = MAX_MAGNITUDE if kind.maximum is None else kind.maximum
        if (low is not None and value < low) or value > high:
            return f"between {low if low is not None else -MAX_MAGNITUDE} and {high}"
        return None
    if kind.type == "date":
        try:
            date.fromisoformat(value)
        except (TypeError, ValueError):
            return "a date YYYY-MM-DD"
        return None
    items = value if kind.type == "texts" and isinstance(value, list) else [value]
    if kind.type == "texts" and not isinstance(value, list):
        return "a list of texts"
    if not all(isinstance(item, str) for item in items):
        return "a text" if kind.type == "text" else "a list of texts"
    if kind.values and any(item not in kind.values for item in items):
        return "one of " + "、".join(kind.values)
    return None


def list_kinds(work: Work) -> list[dict[str, Any]]:
    work.guard.done()
    stored = [_from_document(d) for d in work.store.fact_kinds(1000)]
    return [k.view() for k in [*BUILT_IN.values(), *stored]]


def declare(work: Work, body: Mapping[str, Any]) -> dict[str, Any]:
    """A feed fact declared by staff for their unit; each name once (409 when taken)."""
    store, guard, now = work.store, work.guard, work.now
    guard.done()
    name = body.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidInput("lowercase letters, digits and _, starting with a letter", field="name")
    if name in BUILT_IN or name.startswith("cert_"):
        raise Conflict("this fact kind is declared already", field="name")
    kind = body.get("type")
    if kind not in TYPES:
        raise InvalidInput(f"one of {', '.join(TYPES)}", field="type")
    document: Document = {
        "_id": name,
        "label": text(body.get("label"), "label", 50),
        "type": kind,
        "owner": guard.actor.org_path,
        "declared_by": guard.actor.account_id,
        "declared_at": now,
    }
    for bound in ("minimum", "maximum"):
        value = body.get(bound)
        if value is None:
            continue
        if kind not in ("money", "integer", "number"):
            raise InvalidInput("only numbers have a range", field=bound)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidInput("a number", field=bound)
        if abs(value) > MAX_MAGNITUDE:
            raise InvalidInput("within ±2^53", field=bound)
        document[bound] = value
    low, high = document.get("minimum"), document.get("maximum")
    if low is not None and high is not None and high < low:
        raise InvalidInput("must not be below the minimum", field="maximum")
    values = body.get("values")
    if values is not None:
        if kind not in ("text", "texts"):
            raise InvalidInput("only texts list their values", field="values")
        if not isinstance(values, list) or not 1 <= len(values) <= 100:
            raise InvalidInput("a list of 1 to 100 texts", field="values")
        document["values"] = [text(v, f"values[{i}]", 100) for i, v in enumerate(values)]
    if not store.insert_fact_kind(document):
        raise Conflict("this fact kind is declared already", field="name")
    result: dict[str, Any] = to_wire(_from_document(document).view())
    return result
