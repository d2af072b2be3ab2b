"""The escalation ladder (预警 / 黄牌 / 红牌): rules chosen by (source, level, category,
handling type), each a list of steps placed on the working-day clock.

A step is ``{"card": "warning", "fraction": 0.75}`` (that share of the time limit, measured
in working time), or ``{"card": "red", "after_due_working_days": 2}`` (after the due time).
The most specific rule wins: every field a rule names must match, and the rule naming more
fields is preferred; the seeded default names none.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from services.common.codec import to_wire
from services.common.errors import Conflict, InvalidInput
from services.common.mongo import Document, put_document
from services.tasks.calendar import WorkCalendar

CARDS = ("warning", "yellow", "red")
RANK = {"none": 0, "warning": 1, "yellow": 2, "red": 3}
MATCH_FIELDS = ("source", "level", "category", "handling_type")
DEFAULT_RULE: Document = {
    "_id": "default",
    "match": {},
    "steps": [
        {"card": "warning", "fraction": 0.75},
        {"card": "yellow", "fraction": 1.0},
        {"card": "red", "after_due_working_days": 2},
    ],
}


@dataclass(frozen=True)
class Rung:
    card: str
    at: datetime


def validate_rule(rule_id: str, match: dict[str, Any], steps: list[dict[str, Any]]) -> Document:
    if not isinstance(rule_id, str) or not 1 <= len(rule_id) <= 64:
        raise InvalidInput("1–64 characters", field="id")
    unknown = set(match) - set(MATCH_FIELDS)
    if unknown:
        raise InvalidInput(f"unknown match fields: {', '.join(sorted(unknown))}", field="match")
    if not steps:
        raise InvalidInput("at least one step", field="steps")
    last = 0
    for i, step in enumerate(steps):
        where = f"steps[{i}]"
        if step.get("card") not in CARDS:
            raise InvalidInput(f"card is one of {', '.join(CARDS)}", field=f"{where}.card")
        if RANK[step["card"]] <= last:
            raise InvalidInput("cards go up: warning, yellow, red", field=f"{where}.card")
        last = RANK[step["card"]]
        offsets = {"fraction", "after_due_working_days", "after_due_working_hours"} & set(step)
        if len(offsets) != 1:
            raise InvalidInput(
                "exactly one of fraction, after_due_working_days, after_due_working_hours",
                field=where,
            )
        (offset,) = offsets
        value = step[offset]
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
            raise InvalidInput("a number ≥ 0", field=f"{where}.{offset}")
        if offset == "fraction" and not 0 < value <= 1:
            raise InvalidInput("a share of the time limit, 0 < fraction ≤ 1", field=where)
    return {"_id": rule_id, "match": dict(match), "steps": [dict(s) for s in steps]}


def seed(db: Database[Document], _config: Any) -> None:
    with contextlib.suppress(DuplicateKeyError):
        db.ladder_rules.insert_one(dict(DEFAULT_RULE))


def save_rule(db: Database[Document], rule: Document, replace: bool) -> dict[str, Any]:
    if replace:
        put_document(db.ladder_rules, rule["_id"], rule)
    else:
        try:
            db.ladder_rules.insert_one(rule)
        except DuplicateKeyError as exc:
            raise Conflict("a rule with this id exists", field="id") from exc
    return to_wire(rule)


def list_rules(db: Database[Document]) -> list[dict[str, Any]]:
    return [to_wire(r) for r in db.ladder_rules.find({}).sort("_id", 1)]


def choose(rules: list[Document], task: Document) -> Document:
    """The most specific rule whose every named field equals the task's."""
    best, best_score = DEFAULT_RULE, -1
    for rule in sorted(rules, key=lambda r: str(r["_id"])):
        match = rule.get("match") or {}
        if all(task.get(k) == v for k, v in match.items()) and len(match) > best_score:
            best, best_score = rule, len(match)
    return best


def rungs(rule: Document, started: datetime, due: datetime, calendar: WorkCalendar) -> list[Rung]:
    """When each card falls due for a deadline running from ``started`` to ``due``."""
    span = calendar.working_minutes(started, due)
    result = []
    for step in rule["steps"]:
        if "fraction" in step:
            fraction = float(step["fraction"])
            if fraction >= 1:
                at = due
            elif span > 0:
                at = calendar.add_working_minutes(started, fraction * span)
            else:  # a limit entirely outside working hours: share of the wall clock
                at = started + (due - started) * fraction
        elif "after_due_working_days" in step:
            minutes = float(step["after_due_working_days"]) * calendar.minutes_per_day()
            at = calendar.add_working_minutes(due, minutes)
        else:
            at = calendar.add_working_minutes(due, float(step["after_due_working_hours"]) * 60)
        result.append(Rung(step["card"], max(at, started)))
    return result
