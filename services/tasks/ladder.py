"""The escalation ladder (预警 / 黄牌 / 红牌): rules chosen by (source, level, category,
handling type, handling role, time-limit type), each a list of steps placed on the
working-day clock.

A step is ``{"card": "warning", "fraction": 0.75}`` (that share of the time limit, measured
in working time), or ``{"card": "red", "after_due_working_days": 2}`` (after the due time).
The most specific rule wins: every field a rule names must match, and the rule naming more
fields is preferred, then the rule of the deeper unit; the seeded default names none.

A rule belongs to the unit that set it (``owner``; the city's when an administrator set it)
and applies only to tasks dispatched inside that unit's subtree. Rule ids are the owner's
own: two districts may each have an ``urgent`` rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.common.actor import within
from services.common.codec import to_wire
from services.common.document import Document
from services.common.errors import Conflict, InvalidInput, NotFound
from services.tasks import access
from services.tasks.calendar import WorkCalendar
from services.tasks.store import TaskStore
from services.tasks.work import Work

CARDS = ("warning", "yellow", "red")
RANK = {"none": 0, "warning": 1, "yellow": 2, "red": 3}
# What a rule may key on (Guangxi's matrix: 时限类型, 紧急程度, 处办类型, 处办角色): the
# source, the level, the category, the handling type, the handling role (``lead`` or
# ``assist`` of a task sent to several units) and the time-limit type (``working_days``,
# ``working_hours`` or ``due_at``).
MATCH_FIELDS = ("source", "level", "category", "handling_type", "handling_role", "limit_type")
FACET_VALUES = {
    "handling_role": ("lead", "assist"),
    "limit_type": ("working_days", "working_hours", "due_at"),
}
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
    for name, allowed in FACET_VALUES.items():
        if name in match and match[name] not in allowed:
            raise InvalidInput(f"one of {', '.join(allowed)}", field=f"match.{name}")
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


def seed(store: TaskStore, _config: Any) -> None:
    store.insert_ladder_rule(dict(DEFAULT_RULE))


def stored_id(owner: str | None, rule_id: str) -> str:
    return rule_id if owner is None else f"{owner}#{rule_id}"


def view(rule: Document) -> dict[str, Any]:
    owner = rule.get("owner")
    shown = str(rule["_id"]).split("#", 1)[1] if owner else rule["_id"]
    return to_wire({**rule, "_id": shown, "id": shown, "owner": owner})


def _resource(rule: Document) -> Any:
    return access.owned_rule("ladder_rule", rule.get("owner"))


def put_rule(work: Work, rule: Document) -> dict[str, Any]:
    """Set a rule of the caller's unit (replacing the unit's rule of that id)."""
    owner = work.guard.actor.org_path
    stored = {**rule, "_id": stored_id(owner, rule["_id"]), "owner": owner}
    work.guard.require(_resource(stored), "no such escalation rule")
    work.store.put_ladder_rule(stored)
    return view(stored)


def delete_rule(work: Work, rule_id: str, owner: str | None = None) -> dict[str, Any]:
    """Remove a rule of the caller's unit or of a unit below it (``owner``, by default the
    caller's own); the city's default stays."""
    store, guard = work.store, work.guard
    owner = owner if owner is not None else guard.actor.org_path
    key = stored_id(owner, rule_id) if isinstance(rule_id, str) else None
    found = store.load_ladder_rule(key) if key else None
    if found is None:
        raise NotFound("no such escalation rule")
    guard.require(_resource(found), "no such escalation rule")
    if found["_id"] == DEFAULT_RULE["_id"]:
        raise Conflict("the default rule is changed, not removed", field="id")
    store.delete_ladder_rule(key)
    return view(found)


def list_rules(work: Work) -> list[dict[str, Any]]:
    """The rules that apply in the caller's jurisdiction (and those of the units below)."""
    found = work.store.ladder_rules()
    return [view(r) for r in work.guard.filter(found, _resource)]


def _applies(rule: Document, task: Document) -> bool:
    owner = rule.get("owner")
    dispatcher = task.get("dispatcher")
    return owner is None or (isinstance(dispatcher, str) and within(dispatcher, owner))


def facets(task: Document) -> dict[str, Any]:
    """What the ladder's rules see of a task (a task sent to one unit leads it)."""
    limit = task.get("limit")
    kind = next(iter(limit), None) if isinstance(limit, dict) and limit else None
    return {
        **{k: task.get(k) for k in ("source", "level", "category", "handling_type")},
        "handling_role": task.get("handling_role") or "lead",
        "limit_type": kind,
    }


def choose(rules: list[Document], task: Document) -> Document:
    """The most specific rule (more named fields, then a deeper owner) that applies where the
    task was dispatched and whose every named field equals the task's."""
    best, best_score = DEFAULT_RULE, (-1, -1)
    seen = facets(task)
    for rule in sorted(rules, key=lambda r: str(r["_id"])):
        match = rule.get("match") or {}
        if not _applies(rule, task) or not all(seen.get(k) == v for k, v in match.items()):
            continue
        owner = rule.get("owner")
        score = (len(match), -1 if owner is None else owner.count("/"))
        if score > best_score:
            best, best_score = rule, score
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
