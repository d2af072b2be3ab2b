"""Conditions as data (条件即数据): a tree of ``all`` / ``any`` / ``not`` over atomic checks
on named facts, evaluated to True, False or None (unknown), with every check explained.

A check: ``{"fact": "age", "op": "<", "value": 60, "label": "未满60周岁", "clause": "第三条"}``.
``value`` may name a dated parameter instead: ``{"param": "age_threshold"}``, looked up as of
the evaluation date (parameters change on dates, as OpenFisca's do). A fact nobody knows is
*unknown*, not false: ``all`` is false if any part is false, else unknown if any is unknown;
``any`` is true if any part is true, else unknown if any is unknown; ``not`` flips true and
false and keeps unknown. Every check is evaluated (never stopping at the first failure), so
an explanation lists them all.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from services.common.errors import InvalidInput

OPERATORS = ("==", "!=", "<", "<=", ">", ">=", "in", "not_in", "contains", "exists")
Tri = bool | None


@dataclass(frozen=True)
class CheckResult:
    label: str
    clause: str | None
    fact: str
    op: str
    required: Any
    actual: Any
    known: bool
    met: Tri

    def view(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "clause": self.clause,
            "fact": self.fact,
            "op": self.op,
            "required": self.required,
            "value": self.actual if self.known else None,
            "known": self.known,
            "met": self.met,
        }


def validate_parameters(parameters: Any) -> dict[str, list[dict[str, Any]]]:
    """``{"name": [{"from": "2026-01-01", "value": 60}, …]}``, sorted by date."""
    if parameters is None:
        return {}
    if not isinstance(parameters, dict):
        raise InvalidInput("an object of dated values", field="parameters")
    result = {}
    for name, values in parameters.items():
        where = f"parameters.{name}"
        if not isinstance(values, list) or not values:
            raise InvalidInput("a list of {from, value}", field=where)
        dated = []
        for i, item in enumerate(values):
            if not isinstance(item, dict) or "value" not in item:
                raise InvalidInput("{from, value}", field=f"{where}[{i}]")
            try:
                start = date.fromisoformat(str(item.get("from")))
            except ValueError as exc:
                raise InvalidInput("a date such as 2026-01-01", field=f"{where}[{i}].from") from exc
            require_plain(item["value"], f"{where}[{i}].value")
            dated.append({"from": start.isoformat(), "value": item["value"]})
        result[name] = sorted(dated, key=lambda d: d["from"])
    return result


def parameter(parameters: Mapping[str, list[dict[str, Any]]], name: str, on: date) -> Any:
    """The value in force on ``on`` (the latest that started on or before it)."""
    current = None
    for item in parameters.get(name, []):
        if item["from"] <= on.isoformat():
            current = item["value"]
    return current


# A policy's text nests a few levels (a clause, its exceptions); the database stores at most
# 100 levels of a document, and every reader of a condition walks it recursively.
MAX_DEPTH = 16
MAX_CHECKS = 500


def validate_condition(
    node: Any, parameters: Mapping[str, Any], where: str = "conditions", depth: int = 1
) -> None:
    """Raise InvalidInput naming the node (``conditions.all[1].op``)."""
    if depth > MAX_DEPTH:
        raise InvalidInput(f"conditions nest at most {MAX_DEPTH} levels deep", field=where)
    if not isinstance(node, dict) or not node:
        raise InvalidInput("a condition: all, any, not or a check", field=where)
    if "all" in node or "any" in node:
        key = "all" if "all" in node else "any"
        parts = node[key]
        if not isinstance(parts, list) or not parts:
            raise InvalidInput(f"{key} takes a non-empty list", field=f"{where}.{key}")
        if len(parts) > MAX_CHECKS:
            raise InvalidInput(f"at most {MAX_CHECKS} parts", field=f"{where}.{key}")
        for i, part in enumerate(parts):
            validate_condition(part, parameters, f"{where}.{key}[{i}]", depth + 1)
        return
    if "not" in node:
        validate_condition(node["not"], parameters, f"{where}.not", depth + 1)
        return
    fact, op = node.get("fact"), node.get("op")
    if not isinstance(fact, str) or not fact:
        raise InvalidInput("the fact this check reads", field=f"{where}.fact")
    if op not in OPERATORS:
        raise InvalidInput(f"one of {', '.join(OPERATORS)}", field=f"{where}.op")
    if not isinstance(node.get("label"), str) or not node["label"].strip():
        raise InvalidInput("a label people can read", field=f"{where}.label")
    if op == "exists":
        return
    if "param" in node:
        if node["param"] not in parameters:
            raise InvalidInput("no such parameter", field=f"{where}.param")
    elif "value" not in node:
        raise InvalidInput("a value or a param", field=f"{where}.value")
    elif op in ("in", "not_in") and not isinstance(node["value"], list):
        raise InvalidInput(f"{op} takes a list", field=f"{where}.value")
    else:
        require_plain(node["value"], f"{where}.value")


def require_plain(value: Any, where: str) -> None:
    """A value a rule compares with: a finite number within ±2^53, a text, true/false, or a
    list of those; never NaN, infinity or a nested object."""
    items = value if isinstance(value, list) else [value]
    if isinstance(value, list) and len(value) > 1000:
        raise InvalidInput("at most 1,000 values", field=where)
    for item in items:
        if isinstance(item, bool) or item is None:
            continue
        if isinstance(item, int) and abs(item) <= 2**53:
            continue
        if isinstance(item, float) and math.isfinite(item) and abs(item) <= 2**53:
            continue
        if isinstance(item, str) and len(item) <= 1000:
            continue
        raise InvalidInput(
            "a finite number within ±2^53, a text, true/false or a list of them", field=where
        )


def compare(op: str, actual: Any, required: Any) -> bool:
    try:
        if op == "==":
            return bool(actual == required)
        if op == "!=":
            return bool(actual != required)
        if op == "<":
            return bool(actual < required)
        if op == "<=":
            return bool(actual <= required)
        if op == ">":
            return bool(actual > required)
        if op == ">=":
            return bool(actual >= required)
        if op == "in":
            return actual in required
        if op == "not_in":
            return actual not in required
        if op == "contains":
            return required in actual if isinstance(actual, list | str) else False
    except TypeError:
        return False
    raise AssertionError(op)


def evaluate(
    node: Mapping[str, Any],
    facts: Mapping[str, Any],
    parameters: Mapping[str, list[dict[str, Any]]],
    on: date,
    checks: list[CheckResult],
) -> Tri:
    """The node's value; every check met or not is appended to ``checks``."""
    if "all" in node:
        values = [evaluate(p, facts, parameters, on, checks) for p in node["all"]]
        return False if False in values else (None if None in values else True)
    if "any" in node:
        values = [evaluate(p, facts, parameters, on, checks) for p in node["any"]]
        return True if True in values else (None if None in values else False)
    if "not" in node:
        value = evaluate(node["not"], facts, parameters, on, checks)
        return None if value is None else not value
    fact, op = node["fact"], node["op"]
    required = parameter(parameters, node["param"], on) if "param" in node else node.get("value")
    known = fact in facts and facts[fact] is not None
    actual = facts.get(fact)
    if op == "exists":
        met: Tri = known
    else:
        met = compare(op, actual, required) if known else None
    checks.append(
        CheckResult(node["label"], node.get("clause"), fact, op, required, actual, known, met)
    )
    return met


def facts_read(node: Mapping[str, Any]) -> set[str]:
    """Every fact a condition (or amount) reads: what an incremental re-match listens to."""
    found: set[str] = set()
    if isinstance(node, Mapping):
        for key in ("fact", "of"):  # a check's fact; the fact an amount is computed from
            if isinstance(node.get(key), str):
                found.add(node[key])
        for value in node.values():
            if isinstance(value, Mapping | list):
                found |= (
                    facts_read(value)
                    if isinstance(value, Mapping)
                    else set().union(*(facts_read(v) for v in value if isinstance(v, Mapping)))
                )
    return found
