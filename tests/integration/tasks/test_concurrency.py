"""Fifty people acting on one task at once, over the real bus and database: exactly one
transition is applied, the other 49 get Conflict with the current state, and the history
holds exactly the applied steps."""

from __future__ import annotations

from typing import Any

import eventlet
from nameko.exceptions import RemoteError

from services.common.actor import Actor
from services.common.codec import utcnow
from services.common.errors import DomainError
from services.tasks import access, calendar, lifecycle
from services.tasks.service import TasksService
from services.tasks.store import TaskStore
from tests.bus import as_actor, gateway_proxy
from tests.integration.tasks.conftest import DISPATCHER, STREET
from tests.unit.tasks.working import work

SUPERVISOR = Actor(account_id="acc_hp_sup", roles=("supervisor",), org_path="C/HP")


def test_fifty_conflicting_transitions_one_wins(
    container_factory: Any, service_config: dict[str, Any], tasks_store: TaskStore
) -> None:
    container = container_factory(TasksService, service_config)
    container.start()
    task = lifecycle.create_task(
        work(
            tasks_store,
            as_actor(access.TABLE, "create_task", DISPATCHER),
            utcnow(),
            calendar.load(tasks_store),
        ),
        {"title": "噪音扰民", "category": "environment", "units": ["C/HP/NH"]},
    )

    def act(i: int) -> str:
        # Half the street's staff, half a district supervisor above it, all signing for the
        # task (签收) at once: only the first may; after it, accepting again is meaningless.
        actor = STREET if i % 2 else SUPERVISOR
        with gateway_proxy(service_config, actor) as rpc:
            try:
                rpc.tasks.accept_task(task_id=task["id"])
            except RemoteError as exc:
                return exc.exc_type
            except DomainError as exc:  # services.common.remote maps them back
                return type(exc).__name__
            return "applied"

    outcomes = list(eventlet.GreenPool(50).imap(act, range(50)))
    assert outcomes.count("applied") == 1
    assert outcomes.count("Conflict") == 49

    with gateway_proxy(service_config, STREET) as rpc:
        current = rpc.tasks.get_task(task_id=task["id"])
        history = rpc.tasks.task_history(task_id=task["id"])
    assert current["rev"] == 3
    assert [h["transition"] for h in history][:2] == ["create", "dispatch"]
    assert len(history) == 3
    assert history[-1]["to"] == current["status"] == "accepted"
