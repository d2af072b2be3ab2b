"""The life of a supervision task (督办任务): create, dispatch (to one unit or several in
parallel), accept, start, transfer (流转), roll back (回退), feedback, review, urge (催办),
reassign, close. Each verb is one journal event (see :mod:`services.tasks.journal`).

Who may act:
* the *dispatcher side*: staff of the dispatching unit or above it, or the partner system
  that created the task;
* the *receiver side*: staff of the receiving unit, supervisors above it, or the partner
  system a task was dispatched to (receiver ``partner:{client}``).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from datetime import datetime, timedelta
from typing import Any

from services.common.access import Guard
from services.common.actor import Actor, ancestors, within
from services.common.codec import parse_time
from services.common.document import Document
from services.common.errors import Conflict, Forbidden, InvalidInput, NotFound, RateLimited
from services.common.text import text as free_text
from services.tasks import access, attachments, journal, ladder, routing, sources
from services.tasks.calendar import WorkCalendar, due_on_working_day
from services.tasks.store import PARTNER_PREFIX, TaskStore
from services.tasks.views import task_view
from services.tasks.work import UnitExists, Work

LEVELS = ("normal", "urgent", "critical")
# A deadline given as a moment on a day off: ``move`` it to the next working moment, or
# ``refuse`` it (422 ``day_off``), as the deployment chooses.
DUE_ON_DAY_OFF = os.environ.get("TASK_DUE_ON_DAY_OFF", "move")
if DUE_ON_DAY_OFF not in ("move", "refuse"):
    raise ValueError("TASK_DUE_ON_DAY_OFF is move or refuse")
DEFAULT_LIMITS = {
    "normal": {"working_days": 5},
    "urgent": {"working_days": 2},
    "critical": {"working_hours": 8},
}
OPEN = frozenset(
    {
        "created",
        "dispatched",
        "accepted",
        "in_progress",
        "feedback_submitted",
        "feedback_rejected",
        "returned",
        "arbitration",
    }
)
ROLLBACK_REASONS = (
    "not_ours",
    "wrong_jurisdiction",
    "insufficient_information",
    "duplicate",
    "other",
)
URGE_INTERVAL = timedelta(hours=1)


# What a parallel child task takes from its parent.
INHERITED = (
    "title",
    "description",
    "level",
    "category",
    "matter",
    "handling_type",
    "source",
    "jurisdiction",
    "dispatcher",
    "limit",
    "attachments",
)
# The states in which a task is with its receiving unit.
WITH_RECEIVER = frozenset({"dispatched", "accepted", "in_progress", "feedback_rejected"})


def _blank(task_id: str, actor: Actor, now: datetime, **fields: Any) -> Document:
    """A new task as it is before its first event: nobody holds it, no deadline, no card."""
    return {
        "_id": task_id,
        "receiver": None,
        "holders": [],
        "held_within": [],
        "parent": None,
        "children": [],
        "deadline": 0,
        "card": "none",
        "cards": [],
        "rolled_back_by": [],
        "urges": 0,
        "status": "created",
        "rev": 0,
        "created_at": now,
        "created_by": journal.actor_view(actor),
        **fields,
    }


def _reach(*units: str | None) -> list[str]:
    paths: set[str] = set()
    for unit in units:
        if unit and not unit.startswith(PARTNER_PREFIX):
            paths.update(ancestors(unit))
    return sorted(paths)


def _held(task: Document, unit: str) -> list[str]:
    """Every unit the task was ever with, in order (statistics count it for each)."""
    holders: list[str] = task.get("holders", [])
    return holders if unit in holders else [*holders, unit]


def _held_within(task: Document, unit: str) -> list[str]:
    """Every unit the task was ever with and every unit above them: a unit's statistics
    count the tasks of its whole subtree by this field (``reach`` follows where the task is
    now, so a task re-dispatched elsewhere leaves it)."""
    known = task.get("held_within") or _reach(*task.get("holders", []))
    return sorted({*known, *_reach(unit)})


def _widened(task: Document, unit: str) -> list[str]:
    """The task's reach once ``unit`` (and so everything above it) is involved too."""
    return sorted({*task["reach"], *_reach(unit)})


def _hand_to(task: Document, unit: str) -> Document:
    """The fields that change when another unit receives the task. Whoever transferred it
    before no longer answers for it (a transfer sets its own ``transferred_by`` after)."""
    return {
        "receiver": unit,
        "holders": _held(task, unit),
        "held_within": _held_within(task, unit),
        "reach": _widened(task, unit),
        "transferred_by": [],
    }


def get_visible(work: Work, task_id: Any) -> Document:
    """The task, or NotFound when it does not exist or the caller may not see it."""
    task = journal.load(work.store, task_id) if isinstance(task_id, str) else None
    if task is None:
        raise NotFound("no such task")
    work.guard.see(access.task(task), "no such task")
    return task


def _require(guard: Guard, task: Document, states: frozenset[str] | set[str], verb: str) -> None:
    """The state first: of two people acting at once, the later one learns what happened
    (409 with the current state) even when the first move took the task out of their hands;
    then the side the operation's rule asks for (403)."""
    if task["status"] not in states:
        raise Conflict(
            f"a task that is {task['status']} cannot be {verb}",
            state=task["status"],
            code="wrong_state",
        )
    if not guard.allows(access.task(task)):
        raise Forbidden(f"this task cannot be {verb} by you", code="not_your_task")


def _within_dispatcher(task: Document, unit: Any, field: str) -> str:
    """A unit a task may be sent to: a partner system registered as such, or an existing
    unit inside the dispatching unit's subtree (a district sends down its own streets, never
    into another district)."""
    if isinstance(unit, str) and unit.startswith(PARTNER_PREFIX):
        return unit
    dispatcher = task.get("dispatcher")
    if not isinstance(unit, str) or not dispatcher or not within(unit, dispatcher):
        raise NotFound("no such org unit", field=field)
    return unit


def deadline_for(
    limit: dict[str, Any] | None, level: str, start: datetime, calendar: WorkCalendar
) -> datetime:
    limit = limit or DEFAULT_LIMITS[level]
    if not isinstance(limit, dict) or len(limit) != 1:
        raise InvalidInput("one of due_at, working_days, working_hours", field="limit")
    ((kind, value),) = limit.items()
    if kind == "due_at":
        due = due_on_working_day(calendar, parse_time(value, "limit.due_at"), DUE_ON_DAY_OFF)
    elif kind in ("working_days", "working_hours"):
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 365:
            raise InvalidInput("a whole number from 1 to 365", field=f"limit.{kind}")
        due = (
            calendar.add_working_days(start, value)
            if kind == "working_days"
            else calendar.add_working_minutes(start, value * 60)
        )
    else:
        raise InvalidInput("one of due_at, working_days, working_hours", field="limit")
    if due <= start:
        raise InvalidInput("the time limit must end in the future", field="limit")
    return due


def new_deadline(
    store: TaskStore, task: Document, now: datetime, due: datetime, calendar: WorkCalendar
) -> tuple[Document, list[Document]]:
    """The fields and schedule entries of a fresh deadline: the ladder starts from nothing."""
    rule = ladder.choose(store.ladder_rules(), task)
    deadline = int(task.get("deadline", 0)) + 1
    rungs = ladder.rungs(rule, now, due, calendar)
    changes = {
        "deadline": deadline,
        "started_at": now,
        "due_at": due,
        "card": "none",
        "card_at": None,
        "ladder_rule": rule["_id"],
        "ladder": [{"card": r.card, "at": r.at} for r in rungs],
        "next_escalation_at": rungs[0].at if rungs else None,
    }
    entries = [{"deadline": deadline, "card": r.card, "at": r.at} for r in rungs]
    return changes, entries


def notice(unit: str, kind: str, text: str, at: datetime, calendar: WorkCalendar) -> Document:
    """A notice for a unit's staff; outside working hours it waits for the next one."""
    return {
        "unit": unit,
        "kind": kind,
        "text": text,
        "at": at,
        "deliver_at": calendar.next_working_moment(at),
    }


def external_owner(actor: Actor, dispatcher: str) -> str:
    """Whose namespace an external id lives in: a partner system's own, the system's (tasks
    other services ask for), or a unit's. Two units, or a unit and a partner, may use the
    same id for different tasks without meeting each other's."""
    if actor.client_id:
        return f"partner:{actor.client_id}"
    if (actor.account_id or "").startswith("system:"):
        return str(actor.account_id)
    return f"unit:{dispatcher}"


def _external_key(owner: str, source: str, external_id: str) -> str:
    return f"external:{owner}:{source}:{external_id}"


def by_external_id(store: TaskStore, owner: str, source: str, external_id: str) -> Document | None:
    """The task ``owner`` created from ``source`` under its own id (the claim that keeps
    it single)."""
    claimed = store.claimed(_external_key(owner, source, external_id))
    return journal.load(store, claimed["task_id"]) if claimed else None


def notices_to(
    unit: str | None, kind: str, text: str, at: datetime, calendar: WorkCalendar
) -> list[Document]:
    """The notice for ``unit``, if it is one of ours (a partner system hears by webhook)."""
    if not unit or unit.startswith(PARTNER_PREFIX):
        return []
    return [notice(unit, kind, text, at, calendar)]


def create_task(work: Work, fields: dict[str, Any]) -> dict[str, Any]:
    """The task, and ``created``: whether it is new (False: the same source and external id
    came again and the earlier task is returned). Its jurisdiction lies in the creator's
    (staff's own, or a partner system's area)."""
    store, guard, now = work.store, work.guard, work.now
    actor = guard.actor
    source = sources.require_enabled(store, fields.get("source", "manual"))
    external_id = free_text(fields.get("external_id"), "external_id", 100, required=False)
    if actor.client_id and external_id is None:
        raise InvalidInput("partner systems send their own id for each task", field="external_id")
    level = fields.get("level", "normal")
    if level not in LEVELS:
        raise InvalidInput(f"one of {', '.join(LEVELS)}", field="level")
    jurisdiction = fields.get("jurisdiction")
    # An administrator (who belongs to no unit) dispatches from the task's jurisdiction.
    dispatcher = actor.org_path or (jurisdiction if isinstance(jurisdiction, str) else None)
    if not dispatcher:
        raise InvalidInput("a task of no unit says where it belongs", field="jurisdiction")
    if jurisdiction is None:
        guard.done()
    elif not isinstance(jurisdiction, str) or not jurisdiction:
        raise InvalidInput("an org unit path", field="jurisdiction")
    else:
        guard.require(access.org_unit(jurisdiction), "no such org unit", field="jurisdiction")
        if not work.unit_exists(jurisdiction):
            raise NotFound("no such org unit", field="jurisdiction")
    task = _blank(
        "tk_" + secrets.token_hex(8),
        actor,
        now,
        title=free_text(fields.get("title"), "title", 200),
        description=free_text(
            fields.get("description"), "description", 5000, required=False, multiline=True
        ),
        level=level,
        category=free_text(fields.get("category"), "category", 50),
        matter=free_text(fields.get("matter"), "matter", 100, required=False),
        handling_type=free_text(fields.get("handling_type", "standard"), "handling_type", 30),
        source=source["_id"],
        external_id=external_id,
        partner=actor.client_id,
        jurisdiction=jurisdiction,
        dispatcher=dispatcher,
        reach=_reach(dispatcher),
        limit=fields.get("limit") or DEFAULT_LIMITS[level],
    )
    deadline_for(task["limit"], level, now, work.calendar)  # refuse a bad limit before writing
    files = attachments.prepare(fields.get("attachments") or [], task["_id"], now)
    units = fields.get("units")
    if units:  # refuse bad units before writing: a refused create writes nothing
        _check_units(task, units, work.unit_exists)
    owner = external_owner(actor, dispatcher)
    key = _external_key(owner, source["_id"], external_id) if external_id is not None else None
    if key is not None and not store.claim(key, now, task_id=task["_id"]):
        existing = by_external_id(store, owner, source["_id"], str(external_id))
        if existing is None:
            raise Conflict("this task is being created; retry", field="external_id")
        return {**task_view(existing), "created": False}
    store.insert_attachments(files)
    task["attachments"] = [attachments.brief(f) for f in files]
    journal.begin(store, task)
    task = journal.record(store, task, now, actor, "create", "created")
    if units:
        return {**_dispatch_units(work, actor, task, units, None), "created": True}
    routed = routing.route(store, task)
    if routed:
        task = _dispatch_one(work, task, Actor.system("routing"), routed, None)
    return {**task_view(task), "created": True}


def _dispatch_one(
    work: Work,
    task: Document,
    actor: Actor,
    unit: str,
    limit: dict[str, Any] | None,
    transition: str = "dispatch",
) -> Document:
    store, now, calendar = work.store, work.now, work.calendar
    effective = limit or task["limit"]
    due = deadline_for(effective, task["level"], now, calendar)
    # The ladder's rule is chosen on the limit this dispatch sets (its time-limit type).
    changes, entries = new_deadline(store, {**task, "limit": effective}, now, due, calendar)
    changes.update(
        limit=effective,
        receiver=unit,
        holders=_held(task, unit),
        held_within=_held_within(task, unit),
        reach=_reach(task["dispatcher"], unit),
        dispatched_at=now,
        part_due_at=None,
        transferred_by=[],  # a new dispatch: nobody transferred this one yet
    )
    notices = notices_to(unit, "dispatched", f"新任务：{task['title']}", now, calendar)
    return journal.record(
        store,
        task,
        now,
        actor,
        transition,
        "dispatched",
        changes,
        effects={"schedule": entries, "notices": notices},
        unit=unit,
    )


def dispatch_task(
    work: Work, task_id: str, units: list[str], limit: dict[str, Any] | None = None
) -> dict[str, Any]:
    """To one unit, or to several in parallel: one child task per unit, the parent completes
    when every child is approved."""
    task = get_visible(work, task_id)
    _require(work.guard, task, {"created", "returned", "arbitration"}, "dispatched")
    return _dispatch_units(work, work.guard.actor, task, units, limit)


def _check_units(task: Document, units: Any, unit_exists: UnitExists) -> None:
    if not isinstance(units, list) or not 1 <= len(units) <= 50 or len(set(units)) != len(units):
        raise InvalidInput("1–50 different org unit paths", field="units")
    for unit in units:
        if not isinstance(unit, str):
            raise InvalidInput("an org unit path", field="units")
        _within_dispatcher(task, unit, "units")
        if not (unit.startswith(PARTNER_PREFIX) or unit_exists(unit)):
            raise NotFound("no such org unit", field="units")


def _dispatch_units(
    work: Work, actor: Actor, task: Document, units: Any, limit: dict[str, Any] | None
) -> dict[str, Any]:
    store, now = work.store, work.now
    _check_units(task, units, work.unit_exists)
    if len(units) == 1:
        return task_view(_dispatch_one(work, task, actor, units[0], limit))
    children: list[str] = []
    for unit in units:
        child = _blank(
            f"{task['_id']}-{len(children) + 1}",
            actor,
            now,
            **{k: task[k] for k in INHERITED},
            external_id=None,
            partner=task.get("partner"),
            reach=task["reach"],
            parent=task["_id"],
            # 主办 / 协办: the first unit named leads, the others assist (the ladder may treat
            # them apart, as Guangxi's 处办角色).
            handling_role="lead" if not children else "assist",
        )
        children.append(child["_id"])
        # Of two dispatching at once, the one whose insert wins creates and dispatches it.
        if journal.load(store, child["_id"]) is None and journal.begin(store, child):
            child = journal.record(
                store, child, now, actor, "create", "created", parent=task["_id"]
            )
            _dispatch_one(work, child, actor, unit, limit)
    reach = _reach(task["dispatcher"], *units)
    return task_view(
        journal.record(
            store,
            task,
            now,
            actor,
            "dispatch",
            "dispatched",
            {"children": children, "reach": reach, "dispatched_at": now},
            units=units,
        )
    )


def accept_task(work: Work, task_id: str) -> Document:
    store, guard, now = work.store, work.guard, work.now
    task = get_visible(work, task_id)
    _require(guard, task, {"dispatched"}, "accepted")
    return task_view(
        journal.record(store, task, now, guard.actor, "accept", "accepted", {"accepted_at": now})
    )


def start_task(work: Work, task_id: str) -> Document:
    guard = work.guard
    task = get_visible(work, task_id)
    _require(guard, task, {"accepted", "feedback_rejected"}, "started")
    return task_view(
        journal.record(work.store, task, work.now, guard.actor, "start", "in_progress")
    )


def transfer_task(
    work: Work, task_id: str, unit: str, due_at: str | None = None, reason: str | None = None
) -> Document:
    """流转: the receiving unit passes the task down its own subtree, with part of the time
    limit (a due time no later than the task's); the task's own deadline and card stand."""
    store, guard, now = work.store, work.guard, work.now
    actor = guard.actor
    task = get_visible(work, task_id)
    _require(guard, task, {"accepted", "in_progress"}, "transferred")
    receiver = str(task["receiver"])
    if not isinstance(unit, str) or unit == receiver or not within(unit, receiver):
        raise InvalidInput("a unit below the receiving unit", field="unit")
    if not work.unit_exists(unit):
        raise NotFound("no such org unit", field="unit")
    part_due = parse_time(due_at, "due_at") if due_at else task["due_at"]
    if part_due <= now or part_due > task["due_at"]:
        raise InvalidInput("after now and no later than the task's due time", field="due_at")
    # The transferring unit stays answerable: it may review the answer it passed down.
    transferred_by = sorted({*(task.get("transferred_by") or []), receiver})
    changes = {**_hand_to(task, unit), "part_due_at": part_due, "transferred_by": transferred_by}
    notices = notices_to(unit, "transferred", f"转办任务：{task['title']}", now, work.calendar)
    return task_view(
        journal.record(
            store,
            task,
            now,
            actor,
            "transfer",
            "dispatched",
            changes,
            reason,
            {"notices": notices},
            unit=unit,
            part_due_at=part_due,
        )
    )


def rollback_task(
    work: Work, task_id: str, reason_code: str, reason: str, *, limit: int
) -> Document:
    """回退: back to the dispatcher with a reason code; past ``limit`` returns the task goes
    to the next level up (the dispatcher's parent unit) for arbitration."""
    store, guard, now = work.store, work.guard, work.now
    actor = guard.actor
    task = get_visible(work, task_id)
    _require(guard, task, {"dispatched", "accepted", "in_progress"}, "rolled back")
    if reason_code not in ROLLBACK_REASONS:
        raise InvalidInput(f"one of {', '.join(ROLLBACK_REASONS)}", field="reason_code")
    reason = str(free_text(reason, "reason", 500))
    rolled_back_by = [*task.get("rolled_back_by", []), task["receiver"]]
    rollbacks = len(rolled_back_by)
    changes: Document = {
        "rolled_back_by": rolled_back_by,
        "receiver": None,
        "next_escalation_at": None,
        "returned_at": now,
    }
    to, dispatcher = "returned", task["dispatcher"]
    if rollbacks > limit and "/" in dispatcher:
        to, dispatcher = "arbitration", dispatcher.rsplit("/", 1)[0]
        changes.update(dispatcher=dispatcher, reach=_widened(task, dispatcher))
    notices = notices_to(dispatcher, to, f"任务被退回：{task['title']}", now, work.calendar)
    return task_view(
        journal.record(
            store,
            task,
            now,
            actor,
            "rollback",
            to,
            changes,
            reason,
            {"notices": notices},
            reason_code=reason_code,
            rollbacks=rollbacks,
        )
    )


def submit_feedback(
    work: Work, task_id: str, text: str, files: list[dict[str, Any]] | None = None
) -> Document:
    store, guard, now = work.store, work.guard, work.now
    actor = guard.actor
    task = get_visible(work, task_id)
    _require(guard, task, {"in_progress", "feedback_rejected"}, "answered")
    text = str(free_text(text, "text", 5000, multiline=True))
    prepared = attachments.prepare(files or [], task["_id"], now)
    store.insert_attachments(prepared)
    briefs = [attachments.brief(f) for f in prepared]
    return task_view(
        journal.record(
            store,
            task,
            now,
            actor,
            "feedback",
            "feedback_submitted",
            {
                "feedback": {
                    "text": text,
                    "attachments": briefs,
                    "at": now,
                    "unit": task["receiver"],
                }
            },
            text=text,
            attachments=briefs,
        )
    )


def review_feedback(work: Work, task_id: str, decision: str, reason: str | None = None) -> Document:
    store, guard, now = work.store, work.guard, work.now
    actor = guard.actor
    task = get_visible(work, task_id)
    _require(guard, task, {"feedback_submitted"}, "reviewed")
    if decision == "reject":
        reason = free_text(reason, "reason", 500)
        notices = notices_to(
            task["receiver"], "rejected", f"反馈被驳回：{task['title']}", now, work.calendar
        )
        return task_view(
            journal.record(
                store,
                task,
                now,
                actor,
                "reject_feedback",
                "feedback_rejected",
                reason=reason,
                effects={"notices": notices},
            )
        )
    if decision != "approve":
        raise InvalidInput("approve or reject", field="decision")
    return task_view(_complete(work, task, actor, reason))


def _complete(work: Work, task: Document, actor: Actor | None, reason: str | None) -> Document:
    store, now, calendar = work.store, work.now, work.calendar
    on_time = now <= task["due_at"] if task.get("due_at") else True
    started = task.get("dispatched_at")
    working = round(calendar.working_minutes(started, now), 1) if started else None
    task = journal.record(
        store,
        task,
        now,
        actor,
        "approve",
        "approved",
        {
            "completed_at": now,
            "on_time": on_time,
            "next_escalation_at": None,
            "working_minutes": working,
        },
        reason,
    )
    task = journal.record(store, task, now, None, "archive", "archived", {"archived_at": now})
    if task.get("parent"):
        _complete_parent(work, task["parent"])
    return task


def _complete_parent(work: Work, parent_id: str) -> None:
    store = work.store
    parent = journal.load(store, parent_id)
    if parent is None or parent["status"] != "dispatched":
        return
    states = [(journal.load(store, c) or {}).get("status") for c in parent["children"]]
    if all(s == "archived" for s in states):
        # Conflict: the other child's approval completed it at the same moment.
        with contextlib.suppress(Conflict):
            _complete(work, parent, None, "every unit's task is approved")


def urge_task(work: Work, task_id: str, note: str | None = None) -> Document:
    """催办: by the dispatcher side or a supervisor above the receiver; at most once an hour
    per task and urging unit."""
    store, guard, now = work.store, work.guard, work.now
    actor = guard.actor
    task = get_visible(work, task_id)
    receiver = task.get("receiver")
    _require(guard, task, WITH_RECEIVER, "urged")
    note = free_text(note, "note", 500, required=False)
    window = int(now.timestamp() // URGE_INTERVAL.total_seconds())
    who = actor.org_path or actor.client_id
    if not store.claim(f"urge:{task['_id']}:{who}:{window}", now):
        retry = int((window + 1) * URGE_INTERVAL.total_seconds() - now.timestamp()) + 1
        raise RateLimited("this task was urged within the hour", retry_after=retry)
    notices = notices_to(receiver, "urged", f"催办：{task['title']}", now, work.calendar)
    return task_view(
        journal.record(
            store,
            task,
            now,
            actor,
            "urge",
            None,
            {"urges": int(task["urges"]) + 1},
            note,
            {"notices": notices},
        )
    )


def reassign_task(work: Work, task_id: str, unit: str, reason: str) -> Document:
    """A supervisor above the dispatcher moves the task to another unit (the deadline stands)."""
    store, guard, now = work.store, work.guard, work.now
    actor = guard.actor
    task = get_visible(work, task_id)
    _require(guard, task, WITH_RECEIVER, "reassigned")
    reason = str(free_text(reason, "reason", 500))
    unit = _within_dispatcher(task, unit, "unit")
    if not unit.startswith(PARTNER_PREFIX) and not work.unit_exists(unit):
        raise NotFound("no such org unit", field="unit")
    changes = _hand_to(task, unit)
    notices = notices_to(unit, "dispatched", f"改派任务：{task['title']}", now, work.calendar)
    return task_view(
        journal.record(
            store,
            task,
            now,
            actor,
            "reassign",
            "dispatched",
            changes,
            reason,
            {"notices": notices},
            unit=unit,
        )
    )


def close_task(work: Work, task_id: str, reason: str) -> Document:
    """The dispatcher closes a returned task; a supervisor above it closes any open task."""
    store, guard, now = work.store, work.guard, work.now
    actor = guard.actor
    task = get_visible(work, task_id)
    supervisor = guard.holds(access.OVER_DISPATCHER, access.task(task))
    states = OPEN if supervisor else {"created", "returned", "arbitration"}
    _require(guard, task, set(states), "closed")
    reason = str(free_text(reason, "reason", 500))
    return task_view(
        journal.record(
            store,
            task,
            now,
            actor,
            "close",
            "closed",
            {"closed_at": now, "next_escalation_at": None},
            reason,
        )
    )
