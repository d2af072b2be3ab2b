"""Who may do what in tasks: one rule per RPC, the sides of a task, and how each resource kind
is seen.

A task lies with the unit that dispatched it and every unit it was sent to: staff of those
units and of the units above them see it; a partner system sees the tasks it created or was
sent, nothing else of its area. Acting on it takes a *side*:

* the dispatcher side: staff of the dispatching unit or above it, or the partner system that
  created the task;
* the receiver side: staff of the receiving unit, a supervisor above it, or the partner
  system it was sent to;
* a supervisor above the dispatcher reassigns and closes; a supervisor above the receiver
  urges;
* a unit that transferred the task on (流转) reviews the answer as the dispatcher side does.

Routing and escalation rules belong to the unit that made them and apply only inside it;
only that unit or one above it removes them.
"""

from __future__ import annotations

from services.common.access import (
    ADMIN,
    DEPARTMENT,
    EVERY_ROLE,
    JURISDICTION,
    LINEAGE,
    PARTNER,
    PARTNER_AREA,
    SIGNED_IN,
    STAFF,
    AccessTable,
    Ask,
    Kind,
    Relation,
    Resource,
    Rule,
)
from services.common.actor import within
from services.common.document import Document
from services.tasks.store import PARTNER_PREFIX

SUPERVISORS = frozenset({"supervisor", "admin"})
WRITERS = STAFF | {"partner"}


def _staff_over(ask: Ask, unit: str | None, roles: frozenset[str] = STAFF) -> bool:
    actor = ask.actor
    if actor.client_id is not None or not unit or not actor.has_role(*roles):
        return False
    if actor.is_admin:
        return True
    return actor.org_path is not None and within(unit, actor.org_path)


def _dispatcher(ask: Ask) -> bool:
    extra = ask.resource.extra
    if ask.actor.client_id is not None:
        return bool(ask.actor.client_id == extra.get("creator"))
    return _staff_over(ask, extra.get("dispatcher"))


def _receiver(ask: Ask) -> bool:
    receiver, actor = ask.resource.extra.get("receiver"), ask.actor
    if not receiver:
        return False
    if actor.client_id is not None:
        return bool(receiver == PARTNER_PREFIX + actor.client_id)
    if actor.is_admin or actor.org_path == receiver:
        return actor.is_staff
    return _staff_over(ask, receiver, frozenset({"supervisor"}))


def _above_receiver(ask: Ask) -> bool:
    receiver = ask.resource.extra.get("receiver")
    return (
        bool(receiver)
        and ask.actor.org_path != receiver
        and _staff_over(ask, receiver, frozenset({"supervisor"}))
    )


def _transferrer(ask: Ask) -> bool:
    """Staff of a unit that transferred the task down to where it is (or a supervisor over
    such a unit)."""
    actor = ask.actor
    if actor.client_id is not None or not actor.is_staff:
        return False
    return any(
        actor.org_path == unit or _staff_over(ask, unit, frozenset({"supervisor"}))
        for unit in ask.resource.extra.get("transferrers") or ()
    )


def _over_dispatcher(ask: Ask) -> bool:
    return _staff_over(ask, ask.resource.extra.get("dispatcher"), SUPERVISORS)


DISPATCHER = Relation("dispatcher", _dispatcher, "the dispatcher side of the task")
RECEIVER = Relation("receiver", _receiver, "the receiver side of the task")
ABOVE_RECEIVER = Relation("above_receiver", _above_receiver, "a supervisor above the receiver")
TRANSFERRER = Relation("transferrer", _transferrer, "a unit that transferred the task on")
OVER_DISPATCHER = Relation(
    "over_dispatcher", _over_dispatcher, "a supervisor at or above the dispatcher"
)

READ = "tasks:read"
WRITE = "tasks:write"


def _task(summary: str, *relations: Relation, roles: frozenset[str] = WRITERS) -> Rule:
    return Rule(summary, roles=roles, relations=relations, resource="task", client_scope=WRITE)


RULES = {
    # The gateway's readiness, and the container's own probe (services.common.probe).
    "health": Rule(
        "Read the service's health", roles=STAFF, services=frozenset({"gateway", "tasks"})
    ),
    "list_sources": Rule("List task sources", roles=WRITERS, client_scope=READ),
    "add_source": Rule("Add a task source", roles=frozenset({"admin"})),
    "edit_source": Rule("Rename, enable or disable a task source", roles=frozenset({"admin"})),
    "add_routing_rule": Rule(
        "Add a routing rule for one's unit",
        roles=SUPERVISORS,
        relations=(JURISDICTION, ADMIN),
        resource="org_unit",
    ),
    "list_routing_rules": Rule(
        "List the routing rules that apply in one's jurisdiction",
        roles=STAFF,
        relations=(SIGNED_IN, JURISDICTION, LINEAGE, ADMIN),
        resource="routing_rule",
    ),
    "delete_routing_rule": Rule(
        "Remove a routing rule of one's unit or a unit below it",
        roles=SUPERVISORS,
        relations=(DEPARTMENT, ADMIN),
        resource="routing_rule",
    ),
    "put_ladder_rule": Rule(
        "Set an escalation rule for one's unit",
        roles=SUPERVISORS,
        relations=(DEPARTMENT, ADMIN),
        resource="ladder_rule",
    ),
    "list_ladder_rules": Rule(
        "List the escalation rules that apply in one's jurisdiction",
        roles=STAFF,
        relations=(SIGNED_IN, JURISDICTION, LINEAGE, ADMIN),
        resource="ladder_rule",
    ),
    "delete_ladder_rule": Rule(
        "Remove an escalation rule of one's unit or a unit below it",
        roles=SUPERVISORS,
        relations=(DEPARTMENT, ADMIN),
        resource="ladder_rule",
    ),
    "put_calendar_year": Rule("Set a year's working-day calendar", roles=frozenset({"admin"})),
    "get_calendar_year": Rule(
        "Read a year's working-day calendar",
        roles=EVERY_ROLE,
    ),
    "create_task": Rule(
        "Create a task in one's jurisdiction",
        roles=WRITERS,
        relations=(JURISDICTION, PARTNER_AREA, ADMIN),
        resource="org_unit",
        client_scope=WRITE,
    ),
    "dispatch_task": _task("Dispatch a task", DISPATCHER),
    "accept_task": _task("Accept a task", RECEIVER),
    "start_task": _task("Start handling a task", RECEIVER),
    "transfer_task": _task("Pass a task down to a unit below", RECEIVER),
    "rollback_task": _task("Return a task to its dispatcher", RECEIVER),
    "submit_feedback": _task("Answer a task", RECEIVER),
    "review_feedback": _task("Approve or reject the answer to a task", DISPATCHER, TRANSFERRER),
    "urge_task": _task("Urge a task", DISPATCHER, ABOVE_RECEIVER),
    "reassign_task": _task("Move a task to another unit", OVER_DISPATCHER, roles=SUPERVISORS),
    "close_task": _task("Close a task", DISPATCHER, OVER_DISPATCHER),
    "list_tasks": Rule("List the tasks one can see", roles=WRITERS, client_scope=READ),
    "get_task": Rule(
        "Read a task",
        roles=WRITERS,
        relations=(JURISDICTION, PARTNER, ADMIN),
        resource="task",
        client_scope=READ,
    ),
    "task_history": Rule(
        "Read a task's history",
        roles=WRITERS,
        relations=(JURISDICTION, PARTNER, ADMIN),
        resource="task",
        client_scope=READ,
    ),
    "task_attachment": Rule(
        "Read a task's attachment",
        roles=WRITERS,
        relations=(JURISDICTION, PARTNER, ADMIN),
        resource="task",
        client_scope=READ,
    ),
    "my_notices": Rule("Read the notices for one's unit", roles=STAFF),
    "unit_stats": Rule(
        "Read a unit's statistics",
        roles=STAFF,
        relations=(JURISDICTION, ADMIN),
        resource="org_unit",
    ),
    "pending_webhooks": Rule("Take the webhooks due to partners", services=frozenset({"gateway"})),
    "webhooks_delivered": Rule("Mark webhooks as delivered", services=frozenset({"gateway"})),
}

KINDS = {
    "task": Kind("task", visible=(JURISDICTION, PARTNER, ADMIN)),
    "org_unit": Kind("org_unit", visible=(JURISDICTION, PARTNER_AREA, ADMIN)),
    "routing_rule": Kind("routing_rule", visible=(SIGNED_IN, JURISDICTION, LINEAGE, ADMIN)),
    "ladder_rule": Kind("ladder_rule", visible=(SIGNED_IN, JURISDICTION, LINEAGE, ADMIN)),
}

TABLE = AccessTable("tasks", RULES, KINDS)


def task(document: Document) -> Resource:
    receiver = document.get("receiver")
    partners = tuple(
        p
        for p in (
            document.get("partner"),
            receiver[len(PARTNER_PREFIX) :]
            if receiver and receiver.startswith(PARTNER_PREFIX)
            else None,
        )
        if p
    )
    return Resource(
        "task",
        units=tuple(document.get("reach") or ()),
        partners=partners,
        extra={
            "dispatcher": document.get("dispatcher"),
            "receiver": receiver,
            "creator": document.get("partner"),
            "transferrers": tuple(document.get("transferred_by") or ()),
        },
    )


def org_unit(path: str) -> Resource:
    return Resource("org_unit", units=(path,))


def owned_rule(kind: str, owner: str | None) -> Resource:
    """A routing or escalation rule: seen where it applies (its owner's subtree, and by the
    units above that), changed by its owner or a unit above it (``None``: the whole city's,
    an administrator's)."""
    return Resource(
        kind,
        units=(owner,) if owner else (),
        owners=(owner,) if owner else (),
        public=owner is None,
    )
