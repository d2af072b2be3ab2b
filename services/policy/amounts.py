"""Amounts (金额) as small formulas over facts and parameters, in fen:

* ``{"fixed": 50000}``
* ``{"rate": 0.1, "of": "rd_expense", "cap": 2000000}`` (rate × fact, at most the cap)
* ``{"brackets": {"of": "employees", "steps": [{"from": 0, "amount": 10000},
  {"from": 50, "amount": 30000}]}}`` (the step the fact reaches)
* ``{"table": [{"when": <condition>, "amount": <formula>}, …], "otherwise": <formula>}``
  (the first row whose condition holds; the assistive-device rule is one)

Any number may be ``{"param": "name"}``, a dated parameter. An amount that needs a fact
nobody knows is unknown (None), never a guess.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from services.common.errors import InvalidInput
from services.policy.rules import MAX_DEPTH, evaluate, parameter, validate_condition

KINDS = ("fixed", "rate", "brackets", "table")
MAX_NUMBER = 2**53


def number(value: Any, parameters: Mapping[str, Any], on: date) -> Decimal | None:
    if isinstance(value, Mapping) and "param" in value:
        value = parameter(parameters, value["param"], on)
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return Decimal(str(value))


def fen(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _check_number(value: Any, parameters: Mapping[str, Any], where: str) -> None:
    if isinstance(value, Mapping):
        if value.get("param") not in parameters:
            raise InvalidInput("no such parameter", field=f"{where}.param")
    elif (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0 <= value <= MAX_NUMBER
    ):
        raise InvalidInput("a number from 0 to 2^53 or a param", field=where)


def validate_amount(
    node: Any, parameters: Mapping[str, Any], where: str = "amount", depth: int = 1
) -> None:
    if depth > MAX_DEPTH:
        raise InvalidInput(f"amounts nest at most {MAX_DEPTH} levels deep", field=where)
    if not isinstance(node, Mapping) or len(set(node) & set(KINDS)) != 1:
        raise InvalidInput(f"one of {', '.join(KINDS)}", field=where)
    if "fixed" in node:
        _check_number(node["fixed"], parameters, f"{where}.fixed")
    elif "rate" in node:
        _check_number(node["rate"], parameters, f"{where}.rate")
        if not isinstance(node.get("of"), str):
            raise InvalidInput("the fact the rate applies to", field=f"{where}.of")
        if "cap" in node:
            _check_number(node["cap"], parameters, f"{where}.cap")
    elif "brackets" in node:
        brackets = node["brackets"]
        if not isinstance(brackets, Mapping) or not isinstance(brackets.get("of"), str):
            raise InvalidInput("{of, steps}", field=f"{where}.brackets")
        steps = brackets.get("steps")
        if not isinstance(steps, list) or not steps:
            raise InvalidInput("a non-empty list", field=f"{where}.brackets.steps")
        for i, step in enumerate(steps):
            _check_number(
                step.get("from") if isinstance(step, Mapping) else None,
                parameters,
                f"{where}.brackets.steps[{i}].from",
            )
            _check_number(step.get("amount"), parameters, f"{where}.brackets.steps[{i}].amount")
    else:
        rows = node["table"]
        if not isinstance(rows, list) or not rows:
            raise InvalidInput("a non-empty list of {when, amount}", field=f"{where}.table")
        for i, row in enumerate(rows):
            if not isinstance(row, Mapping):
                raise InvalidInput("{when, amount}", field=f"{where}.table[{i}]")
            validate_condition(row.get("when"), parameters, f"{where}.table[{i}].when", depth + 1)
            validate_amount(row.get("amount"), parameters, f"{where}.table[{i}].amount", depth + 1)
        if "otherwise" in node:
            validate_amount(node["otherwise"], parameters, f"{where}.otherwise", depth + 1)


def compute(
    node: Mapping[str, Any], facts: Mapping[str, Any], parameters: Mapping[str, Any], on: date
) -> int | None:
    """The amount in fen, or None when a fact it needs is unknown."""
    if "fixed" in node:
        fixed = number(node["fixed"], parameters, on)
        return None if fixed is None else fen(fixed)
    if "rate" in node:
        rate, base = number(node["rate"], parameters, on), number(facts.get(node["of"]), {}, on)
        if rate is None or base is None:
            return None
        value = rate * base
        cap = number(node.get("cap"), parameters, on) if "cap" in node else None
        return fen(min(value, cap) if cap is not None else value)
    if "brackets" in node:
        base = number(facts.get(node["brackets"]["of"]), {}, on)
        if base is None:
            return None
        reached = None
        for step in node["brackets"]["steps"]:
            start = number(step["from"], parameters, on)
            if start is not None and base >= start:
                reached = number(step["amount"], parameters, on)
        return 0 if reached is None else fen(reached)
    for row in node["table"]:
        holds = evaluate(row["when"], facts, parameters, on, [])
        if holds is None:
            return None  # which row applies depends on something unknown
        if holds:
            return compute(row["amount"], facts, parameters, on)
    return compute(node["otherwise"], facts, parameters, on) if "otherwise" in node else 0


def chosen_row(
    node: Mapping[str, Any], facts: Mapping[str, Any], parameters: Mapping[str, Any], on: date
) -> dict[str, Any] | None:
    """Which row of an amount table paid (its index and label, or ``otherwise``), for the
    decision record; None for an amount that is not a table or a row that is not decided."""
    if "table" not in node:
        return None
    for i, row in enumerate(node["table"]):
        holds = evaluate(row["when"], facts, parameters, on, [])
        if holds is None:
            return None
        if holds:
            return {"row": i, "label": row["when"].get("label")}
    return {"row": "otherwise", "label": None}
