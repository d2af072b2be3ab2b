"""The policy service: declarations only; the logic lives in one module per concept."""

from __future__ import annotations

from typing import Any

from nameko.timer import timer

from services.common import (
    health,
    outbox,
    remote,  # noqa: F401 - remote domain errors stay domain errors
)
from services.common.codec import utcnow
from services.common.context import CallContext, links_from_identity
from services.common.entrypoints import rpc
from services.common.errors import DOMAIN_ERRORS
from services.common.events import SignedEventDispatcher, event_handler
from services.common.metrics import ServiceMetrics
from services.common.mongo import MongoDatabase
from services.common.outbox_relay import OutboxRelay
from services.common.receipts import once_per_event
from services.common.sealed_rpc import SealedRpcProxy
from services.policy import (
    access,
    corrections,
    fact_kinds,
    feeds,
    inbox,
    matches,
    outreach,
    payment,
    payouts,
    policies,
    rematch,
    subjects,
)
from services.policy.store import INDEXES, PolicyStore
from services.policy.work import PolicyWork

expected = DOMAIN_ERRORS


class PolicyService:
    name = "policy"

    store: PolicyStore = MongoDatabase("policy", INDEXES, store=PolicyStore)
    call = CallContext(access.TABLE, links=links_from_identity)
    work = PolicyWork(identity="identity", disburse=payment.to_partner, clock=utcnow)
    metrics = ServiceMetrics(extra=lambda database: payouts.gauges(PolicyStore(database)))
    identity = SealedRpcProxy("identity")
    dispatch = SignedEventDispatcher()
    relay = OutboxRelay()  # a worker's events leave as it answers; the timer sends the rest

    @rpc(expected_exceptions=expected)
    def health(self) -> dict[str, Any]:
        return health.check(self.name, self.store.database)

    @rpc(expected_exceptions=expected)
    def payment_callback(self, body: str, signature: str) -> dict[str, Any]:
        """The payment partner's signed callback, forwarded as received by the gateway."""
        return payouts.settle_callback(self.work, body, signature)

    # payouts (免申即享)

    @rpc(expected_exceptions=expected)
    def run_payouts(self, policy_id: str, period: str) -> dict[str, Any]:
        return payouts.run(self.work, policy_id, period)

    @rpc(expected_exceptions=expected)
    def policy_ledger(self, policy_id: str) -> dict[str, Any]:
        return payouts.ledger(self.work, policy_id)

    @rpc(expected_exceptions=expected)
    def my_payouts(self) -> list[dict[str, Any]]:
        return payouts.mine(self.work)

    @rpc(expected_exceptions=expected)
    def respond_to_payout(self, payout_id: str, accept: bool) -> dict[str, Any]:
        return payouts.respond(self.work, payout_id, bool(accept))

    @event_handler("policy", "payout_released")
    @once_per_event
    def on_payout_released(self, payload: dict[str, Any]) -> None:
        payouts.on_released(self.store, utcnow(), payload)

    @timer(interval=60)
    def retry_failed_payouts(self) -> None:
        payouts.sweep(self.work.store, self.work.now, self.work.disburse)

    @timer(interval=outbox.RELAY_SECONDS)
    def relay_events(self) -> None:
        outbox.relay(self.store.database, self.dispatch, utcnow())

    # what other services tell us

    @event_handler("identity", "subject_registered")
    @once_per_event
    def on_subject_registered(self, payload: dict[str, Any]) -> None:
        subjects.learn_profile(self.store, utcnow(), payload)

    @timer(interval=30)
    def sync_subjects(self) -> None:
        """Subjects registered before this service listened (or while it was down)."""
        subjects.sync(self.work)

    @event_handler("certs", "cert_issued")
    @once_per_event
    def on_cert_issued(self, payload: dict[str, Any]) -> None:
        subjects.learn_certificate(self.store, utcnow(), "cert_issued", payload)

    @event_handler("certs", "cert_amended")
    @once_per_event
    def on_cert_amended(self, payload: dict[str, Any]) -> None:
        subjects.learn_certificate(self.store, utcnow(), "cert_amended", payload)

    @event_handler("certs", "cert_revoked")
    @once_per_event
    def on_cert_revoked(self, payload: dict[str, Any]) -> None:
        subjects.learn_certificate(self.store, utcnow(), "cert_revoked", payload)

    @event_handler("certs", "cert_suspended")
    @once_per_event
    def on_cert_suspended(self, payload: dict[str, Any]) -> None:
        subjects.learn_certificate(self.store, utcnow(), "cert_suspended", payload)

    @event_handler("certs", "cert_resumed")
    @once_per_event
    def on_cert_resumed(self, payload: dict[str, Any]) -> None:
        subjects.learn_certificate(self.store, utcnow(), "cert_resumed", payload)

    @event_handler("certs", "cert_started")
    @once_per_event
    def on_cert_started(self, payload: dict[str, Any]) -> None:
        subjects.learn_certificate(self.store, utcnow(), "cert_started", payload)

    @event_handler("certs", "cert_parts_changed")
    @once_per_event
    def on_cert_parts_changed(self, payload: dict[str, Any]) -> None:
        subjects.learn_certificate(self.store, utcnow(), "cert_parts_changed", payload)

    @event_handler("certs", "cert_expired")
    @once_per_event
    def on_cert_expired(self, payload: dict[str, Any]) -> None:
        subjects.learn_certificate(self.store, utcnow(), "cert_expired", payload)

    # policies

    @rpc(expected_exceptions=expected)
    def create_policy(self, policy: dict[str, Any]) -> dict[str, Any]:
        return policies.create_policy(self.work, policy)

    @rpc(expected_exceptions=expected)
    def edit_policy(self, policy_id: str, policy: dict[str, Any]) -> dict[str, Any]:
        return policies.edit_policy(self.work, policy_id, policy)

    @rpc(expected_exceptions=expected)
    def get_policy(self, policy_id: str) -> dict[str, Any]:
        return policies.get_policy(self.work, policy_id)

    @rpc(expected_exceptions=expected)
    def list_policies(self, status: str | None = None) -> list[dict[str, Any]]:
        return policies.list_policies(self.work, status)

    @rpc(expected_exceptions=expected)
    def change_policy_status(self, policy_id: str, action: str) -> dict[str, Any]:
        return rematch.change_status(self.work, policy_id, action)

    @rpc(expected_exceptions=expected)
    def simulate_policy(self, policy_id: str) -> dict[str, Any]:
        return rematch.simulate_draft(self.work, policy_id)

    # facts

    @rpc(expected_exceptions=expected)
    def put_facts(
        self, subject: str, values: dict[str, Any], valid_until: str | None = None
    ) -> dict[str, Any]:
        return feeds.put_facts(self.work, subject, values, valid_until)

    @rpc(expected_exceptions=expected)
    def bulk_facts(self, batch_id: str, ndjson: str) -> dict[str, Any]:
        return feeds.bulk_facts(self.work, batch_id, ndjson)

    @rpc(expected_exceptions=expected)
    def subject_facts(self, subject: str) -> dict[str, Any]:
        return matches.facts_of(self.work, subject)

    # matches and the inbox

    @rpc(expected_exceptions=expected)
    def my_matches(self) -> list[dict[str, Any]]:
        return matches.mine(self.work)

    @rpc(expected_exceptions=expected)
    def subject_matches(self, subject: str) -> list[dict[str, Any]]:
        return matches.of_subject(self.work, subject)

    @rpc(expected_exceptions=expected)
    def my_inbox(self) -> list[dict[str, Any]]:
        return inbox.messages_for(self.work)

    # fact correction (自主校正) and eligible-but-not-receiving (应享未享)

    @rpc(expected_exceptions=expected)
    def dispute_fact(
        self, fact: str, proposed: Any, evidence: str, subject: str | None = None
    ) -> dict[str, Any]:
        return corrections.dispute(self.work, subject, fact, proposed, evidence)

    @rpc(expected_exceptions=expected)
    def my_fact_corrections(self) -> list[dict[str, Any]]:
        return corrections.mine(self.work)

    @rpc(expected_exceptions=expected)
    def decide_fact_correction(
        self, correction_id: str, accept: bool, reason: str | None = None
    ) -> dict[str, Any]:
        return corrections.decide(self.work, correction_id, bool(accept), reason)

    @rpc(expected_exceptions=expected)
    def policy_payouts(
        self,
        policy_id: str,
        status: str | None = None,
        period: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> dict[str, Any]:
        return payouts.of_policy(
            self.work, policy_id, status=status, period=period, limit=limit, offset=offset
        )

    @rpc(expected_exceptions=expected)
    def unreceived(self, policy_id: str) -> dict[str, Any]:
        return outreach.unreceived(self.work, policy_id)

    @rpc(expected_exceptions=expected)
    def open_unreceived_tasks(self, policy_id: str) -> dict[str, Any]:
        return outreach.open_tasks(self.work, policy_id)

    # the catalogue of fact kinds

    @rpc(expected_exceptions=expected)
    def list_fact_kinds(self) -> list[dict[str, Any]]:
        return fact_kinds.list_kinds(self.work)

    @rpc(expected_exceptions=expected)
    def declare_fact_kind(self, kind: dict[str, Any]) -> dict[str, Any]:
        return fact_kinds.declare(self.work, kind)
