"""The tasks service: declarations only; the logic lives in one module per concept."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import eventlet
from nameko.timer import timer

from services.common import (
    health,
    remote,  # noqa: F401 - remote domain errors stay domain errors
)
from services.common.context import CallContext
from services.common.entrypoints import rpc
from services.common.errors import DOMAIN_ERRORS
from services.common.events import SignedEventDispatcher, event_handler
from services.common.metrics import ServiceMetrics
from services.common.mongo import MongoDatabase
from services.common.receipts import once_per_event
from services.common.sealed_rpc import SealedRpcProxy
from services.tasks import (
    access,
    attachments,
    calendar,
    escalation,
    intake,
    ladder,
    lifecycle,
    outbox,
    queries,
    routing,
    sources,
    stats,
    statsfold,
)
from services.tasks.store import INDEXES, TaskStore
from services.tasks.views import task_view
from services.tasks.work import TaskWork

expected = DOMAIN_ERRORS
# nameko reads a timer's interval when the class is defined, hence the environment.
SWEEP_SECONDS = float(os.environ.get("TASK_SWEEP_SECONDS", "5"))
RELAY_SECONDS = float(os.environ.get("TASK_RELAY_SECONDS", "1"))
STATS_FOLD_SECONDS = float(os.environ.get("TASK_STATS_FOLD_SECONDS", "1"))
STATS_RECONCILE_SECONDS = float(os.environ.get("TASK_STATS_RECONCILE_SECONDS", "3600"))
STATS_RECONCILE_EVERY = timedelta(seconds=STATS_RECONCILE_SECONDS)
ROLLBACK_LIMIT = int(os.environ.get("TASK_ROLLBACK_LIMIT", "1"))
SWEEP_CONCURRENCY = 8


class TasksService:
    name = "tasks"

    store: TaskStore = MongoDatabase(
        "tasks",
        INDEXES,
        seeds=[sources.seed, ladder.seed, calendar.seed, statsfold.seed],
        store=TaskStore,
    )
    call = CallContext(access.TABLE)
    work = TaskWork(identity="identity")
    metrics = ServiceMetrics(extra=lambda database: escalation.gauges(TaskStore(database)))
    identity = SealedRpcProxy("identity")
    dispatch = SignedEventDispatcher()

    @timer(interval=SWEEP_SECONDS)
    def sweep_escalations(self) -> None:
        work, pool = self.work, eventlet.GreenPool(SWEEP_CONCURRENCY)
        report = escalation.sweep(work.store, work.now, work.calendar, mapper=pool.imap)
        escalation.record_sweep(work.store, work.now, report)

    @timer(interval=RELAY_SECONDS)
    def relay_events(self) -> None:
        outbox.relay(self.store, self.dispatch)

    @timer(interval=STATS_FOLD_SECONDS)
    def fold_statistics(self) -> None:
        statsfold.fold_all(self.work.store, mapper=self.work.mapper)

    # hourly, by one replica (the first start: statsfold.seed); each looks six times an hour
    @timer(interval=STATS_RECONCILE_SECONDS / 6)
    def reconcile_statistics(self) -> None:
        statsfold.reconcile_once_per(self.work.store, self.work.now, STATS_RECONCILE_EVERY)

    @event_handler("policy", "fact_disputed")
    @once_per_event
    def on_fact_disputed(self, payload: dict[str, Any]) -> None:
        intake.fact_disputed(self.work, payload)

    @event_handler("policy", "fact_correction_decided")
    @once_per_event
    def on_fact_correction_decided(self, payload: dict[str, Any]) -> None:
        intake.fact_correction_decided(self.work, payload)

    @event_handler("policy", "policy_unreceived")
    @once_per_event
    def on_policy_unreceived(self, payload: dict[str, Any]) -> None:
        intake.policy_unreceived(self.work, payload)

    @rpc(expected_exceptions=expected)
    def health(self) -> dict[str, Any]:
        return health.check(self.name, self.store.database)

    # sources, routing, ladder, calendar (administration)

    @rpc(expected_exceptions=expected)
    def list_sources(self) -> list[dict[str, Any]]:
        return sources.list_sources(self.store)

    @rpc(expected_exceptions=expected)
    def add_source(self, code: str, name: str) -> dict[str, Any]:
        return sources.add_source(self.store, code, name)

    @rpc(expected_exceptions=expected)
    def edit_source(
        self, code: str, name: str | None = None, enabled: bool | None = None
    ) -> dict[str, Any]:
        return sources.edit_source(self.store, code, name, enabled)

    @rpc(expected_exceptions=expected)
    def add_routing_rule(self, match: dict[str, Any], unit: str) -> dict[str, Any]:
        return routing.add_rule(self.work, match, unit)

    @rpc(expected_exceptions=expected)
    def list_routing_rules(self) -> list[dict[str, Any]]:
        return routing.list_rules(self.work)

    @rpc(expected_exceptions=expected)
    def delete_routing_rule(self, rule_id: str) -> None:
        routing.delete_rule(self.work, rule_id)

    @rpc(expected_exceptions=expected)
    def put_ladder_rule(
        self, rule_id: str, match: dict[str, Any], steps: list[dict[str, Any]]
    ) -> dict[str, Any]:
        return ladder.put_rule(self.work, ladder.validate_rule(rule_id, match, steps))

    @rpc(expected_exceptions=expected)
    def list_ladder_rules(self) -> list[dict[str, Any]]:
        return ladder.list_rules(self.work)

    @rpc(expected_exceptions=expected)
    def delete_ladder_rule(self, rule_id: str, owner: str | None = None) -> dict[str, Any]:
        return ladder.delete_rule(self.work, rule_id, owner)

    @rpc(expected_exceptions=expected)
    def put_calendar_year(
        self,
        year: int,
        holidays: list[str],
        working_weekends: list[str],
        hours: list[list[str]] | None = None,
    ) -> dict[str, Any]:
        return calendar.put_year(
            self.store,
            calendar.validate_year(year, holidays, working_weekends, hours),
            self.call.actor.account_id,
        )

    @rpc(expected_exceptions=expected)
    def get_calendar_year(self, year: int) -> dict[str, Any]:
        return calendar.view_year(self.store, year)

    # the life of a task

    @rpc(expected_exceptions=expected)
    def create_task(self, **fields: Any) -> dict[str, Any]:
        return lifecycle.create_task(self.work, fields)

    @rpc(expected_exceptions=expected)
    def dispatch_task(
        self, task_id: str, units: list[str], limit: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        return lifecycle.dispatch_task(self.work, task_id, units, limit)

    @rpc(expected_exceptions=expected)
    def accept_task(self, task_id: str) -> dict[str, Any]:
        return lifecycle.accept_task(self.work, task_id)

    @rpc(expected_exceptions=expected)
    def start_task(self, task_id: str) -> dict[str, Any]:
        return lifecycle.start_task(self.work, task_id)

    @rpc(expected_exceptions=expected)
    def transfer_task(
        self, task_id: str, unit: str, due_at: str | None = None, reason: str | None = None
    ) -> dict[str, Any]:
        return lifecycle.transfer_task(self.work, task_id, unit, due_at, reason)

    @rpc(expected_exceptions=expected)
    def rollback_task(self, task_id: str, reason_code: str, reason: str) -> dict[str, Any]:
        return lifecycle.rollback_task(
            self.work, task_id, reason_code, reason, limit=ROLLBACK_LIMIT
        )

    @rpc(expected_exceptions=expected)
    def submit_feedback(
        self, task_id: str, text: str, attachments: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        return lifecycle.submit_feedback(self.work, task_id, text, attachments)

    @rpc(expected_exceptions=expected)
    def review_feedback(
        self, task_id: str, decision: str, reason: str | None = None
    ) -> dict[str, Any]:
        return lifecycle.review_feedback(self.work, task_id, decision, reason)

    @rpc(expected_exceptions=expected)
    def urge_task(self, task_id: str, note: str | None = None) -> dict[str, Any]:
        return lifecycle.urge_task(self.work, task_id, note)

    @rpc(expected_exceptions=expected)
    def reassign_task(self, task_id: str, unit: str, reason: str) -> dict[str, Any]:
        return lifecycle.reassign_task(self.work, task_id, unit, reason)

    @rpc(expected_exceptions=expected)
    def close_task(self, task_id: str, reason: str) -> dict[str, Any]:
        return lifecycle.close_task(self.work, task_id, reason)

    # reading

    @rpc(expected_exceptions=expected)
    def list_tasks(
        self, filters: dict[str, Any], limit: int = 50, offset: int = 0
    ) -> dict[str, Any]:
        return queries.list_tasks(self.work, filters, limit=limit, offset=offset)

    @rpc(expected_exceptions=expected)
    def get_task(self, task_id: str) -> dict[str, Any]:
        return task_view(lifecycle.get_visible(self.work, task_id))

    @rpc(expected_exceptions=expected)
    def task_history(self, task_id: str) -> list[dict[str, Any]]:
        return queries.history(self.store, lifecycle.get_visible(self.work, task_id))

    @rpc(expected_exceptions=expected)
    def task_attachment(self, task_id: str, attachment_id: str) -> dict[str, Any]:
        return attachments.read(
            self.store, lifecycle.get_visible(self.work, task_id), attachment_id
        )

    @rpc(expected_exceptions=expected)
    def my_notices(self, limit: int = 50) -> list[dict[str, Any]]:
        return queries.notices_for(self.work, limit)

    @rpc(expected_exceptions=expected)
    def unit_stats(
        self, unit: str, start: str | None = None, end: str | None = None
    ) -> dict[str, Any]:
        return stats.unit_stats(self.work, unit, start, end)

    # partner webhooks (delivered by the gateway, which holds the partners' addresses)

    @rpc(expected_exceptions=expected)
    def pending_webhooks(self, limit: int = 200) -> list[dict[str, Any]]:
        return outbox.pending_webhooks(self.store, limit)

    @rpc(expected_exceptions=expected)
    def webhooks_delivered(self, event_ids: list[str]) -> int:
        return outbox.webhook_delivered(self.store, event_ids)
