"""Tasks that other services ask for through events: a disputed fact to review
(``policy_review``) and a subject eligible for a policy who receives nothing
(``policy_unreceived``). Each is keyed by its origin's id, so a redelivered event opens no
second task; it waits in the queue of the subject's area for its staff to take up.

An event has no caller: each verb is done by the service itself, its ``work`` acting as the
policy service's system actor (with the rule a user's call would be held to)."""

from __future__ import annotations

import contextlib
from typing import Any

from services.common.access import acting_as
from services.common.actor import Actor
from services.common.errors import Conflict
from services.tasks import access, lifecycle
from services.tasks.work import Work

POLICY_SERVICE = "政策服务"


def _actor(org_path: str) -> Actor:
    return Actor(
        account_id="system:policy", roles=("supervisor",), org_path=org_path, name=POLICY_SERVICE
    )


def _open(work: Work, org_path: str | None, fields: dict[str, Any]) -> str | None:
    """A task in the queue of ``org_path`` (the subject's area), keyed by its origin. The
    area comes from the policy service, which knows it: no lookup asks if it exists."""
    if not org_path:
        return None
    guard = acting_as(access.TABLE, "create_task", _actor(org_path))
    task = lifecycle.create_task(work.acting_as(guard, unit_exists=lambda _path: True), fields)
    return str(task["id"])


def fact_disputed(work: Work, payload: dict[str, Any]) -> str | None:
    return _open(
        work,
        payload.get("org_path"),
        {
            "title": f"事实校正审核：{payload['fact']}",
            "category": "fact_correction",
            "source": "policy_review",
            "external_id": payload["correction_id"],
            "description": f"主体 {payload['subject']} 对事实“{payload['fact']}”提出校正，"
            f"请在政策服务中审核（校正单 {payload['correction_id']}）。",
            "limit": {"working_days": 5},
        },
    )


def fact_correction_decided(work: Work, payload: dict[str, Any]) -> None:
    """The review was decided in the policy service: close its task with the outcome."""
    owner = lifecycle.external_owner(_actor(""), "")
    task = lifecycle.by_external_id(work.store, owner, "policy_review", payload["correction_id"])
    if task is None or task["status"] not in lifecycle.OPEN:
        return
    outcome = (
        "校正已采纳" if payload["status"] == "accepted" else f"校正未采纳：{payload.get('reason')}"
    )
    with contextlib.suppress(Conflict):  # someone acted on it at the same moment
        guard = acting_as(access.TABLE, "close_task", _actor(task["dispatcher"]))
        lifecycle.close_task(work.acting_as(guard), task["_id"], outcome)


def policy_unreceived(work: Work, payload: dict[str, Any]) -> str | None:
    """In the queue of the policy's responsible unit (the department that administers it;
    the subject's area for an event from before policies named one). The subject is named
    by the 应享未享 list the unit's staff read, never in the text."""
    return _open(
        work,
        payload.get("responsible_unit") or payload.get("org_path"),
        {
            "title": f"应享未享：{payload['title']}",
            "category": "policy_outreach",
            "source": "policy_unreceived",
            "external_id": f"{payload['code']}:{payload['subject']}",
            "description": f"一名辖区内的服务对象符合“{payload['title']}”的条件但尚未享受，"
            "请在政策服务的“应享未享”名单中查看，联系核实并协助办理。",
            "limit": {"working_days": 10},
        },
    )
