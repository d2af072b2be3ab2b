"""The policy service: declarations only; the logic lives in one module per concept."""

from __future__ import annotations

import os
import time
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
from services.common.errors import DOMAIN_ERRORS, NotFound
from services.common.events import SignedEventDispatcher, event_handler
from services.common.metrics import ServiceMetrics
from services.common.mongo import MongoDatabase
from services.common.outbox_relay import OutboxRelay
from services.common.receipts import once_per_event
from services.common.sealed_rpc import SealedRpcProxy
from services.policy import (
    access,
    catalogue,
    corrections,
    fact_kinds,
    facts,
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
from services.policy.store import INDEXES

expected = DOMAIN_ERRORS
PAYMENT_URL = os.environ.get("PAYMENT_URL", "http://127.0.0.1:8701")
# Where the partner tells us the outcome (the gateway's route); empty: it pays at once.
PAYMENT_CALLBACK_URL = os.environ.get("PAYMENT_CALLBACK_URL", "")


class PolicyService:
    name = "policy"

    db = MongoDatabase("policy", INDEXES)
    call = CallContext(access.TABLE, links=links_from_identity)
    metrics = ServiceMetrics(extra=payouts.gauges)
    identity = SealedRpcProxy("identity")
    dispatch = SignedEventDispatcher()
    relay = OutboxRelay()  # a worker's events leave as it answers; the timer sends the rest

    @rpc(expected_exceptions=expected)
    def health(self) -> dict[str, Any]:
        return health.check(self.name, self.db)

    def _disburse(self, payout: dict[str, Any]) -> tuple[str, str]:
        secret = os.environ.get("PAYMENT_SECRET", "")
        if not secret:
            return "failed", "no payment partner configured (PAYMENT_SECRET)"
        return payment.disburse(PAYMENT_URL, secret, payout, PAYMENT_CALLBACK_URL)

    @rpc(expected_exceptions=expected)
    def payment_callback(self, body: str, signature: str) -> dict[str, Any]:
        """The payment partner's signed callback, forwarded as received by the gateway
        (the secret stays here, with the service that signs the requests)."""
        secret = os.environ.get("PAYMENT_SECRET", "")
        news = payment.callback(secret, signature, body.encode(), int(time.time()))
        return payouts.settle(self.db, utcnow(), news)

    # payouts (免申即享)

    @rpc(expected_exceptions=expected)
    def run_payouts(self, policy_id: str, period: str) -> dict[str, Any]:
        return payouts.run(self.db, self.call.guard, utcnow(), policy_id, period, self._disburse)

    @rpc(expected_exceptions=expected)
    def policy_ledger(self, policy_id: str) -> dict[str, Any]:
        return payouts.ledger(self.db, self.call.guard, policy_id)

    @rpc(expected_exceptions=expected)
    def my_payouts(self) -> list[dict[str, Any]]:
        return payouts.mine(self.db, self.call.guard.mine())

    @rpc(expected_exceptions=expected)
    def respond_to_payout(self, payout_id: str, accept: bool) -> dict[str, Any]:
        return payouts.respond(
            self.db, self.call.guard, utcnow(), payout_id, bool(accept), self._disburse
        )

    @timer(interval=60)
    def retry_failed_payouts(self) -> None:
        payouts.retry_failed(self.db, utcnow(), self._disburse)
        payouts.expire_offers(self.db, utcnow())

    @timer(interval=outbox.RELAY_SECONDS)
    def relay_events(self) -> None:
        outbox.relay(self.db, self.dispatch, utcnow())

    # what other services tell us

    @event_handler("identity", "subject_registered")
    @once_per_event
    def on_subject_registered(self, payload: dict[str, Any]) -> None:
        subjects.learn_profile(self.db, utcnow(), payload)

    @timer(interval=30)
    def sync_subjects(self) -> None:
        """Subjects registered before this service listened (or while it was down)."""
        catalogue.rebuild(self.db)  # heals a rebuild that raced another status change
        subjects.catch_up(self.db, utcnow(), self._profiles_after)

    def _profiles_after(self, subject: str, limit: int) -> list[dict[str, Any]]:
        return list(self.identity.subject_profiles(after=subject, limit=limit))

    @event_handler("certs", "cert_issued")
    @once_per_event
    def on_cert_issued(self, payload: dict[str, Any]) -> None:
        subjects.learn_certificate(self.db, utcnow(), "cert_issued", payload)

    @event_handler("certs", "cert_amended")
    @once_per_event
    def on_cert_amended(self, payload: dict[str, Any]) -> None:
        subjects.learn_certificate(self.db, utcnow(), "cert_amended", payload)

    @event_handler("certs", "cert_revoked")
    @once_per_event
    def on_cert_revoked(self, payload: dict[str, Any]) -> None:
        subjects.learn_certificate(self.db, utcnow(), "cert_revoked", payload)

    @event_handler("certs", "cert_suspended")
    @once_per_event
    def on_cert_suspended(self, payload: dict[str, Any]) -> None:
        subjects.learn_certificate(self.db, utcnow(), "cert_suspended", payload)

    @event_handler("certs", "cert_resumed")
    @once_per_event
    def on_cert_resumed(self, payload: dict[str, Any]) -> None:
        subjects.learn_certificate(self.db, utcnow(), "cert_resumed", payload)

    @event_handler("certs", "cert_started")
    @once_per_event
    def on_cert_started(self, payload: dict[str, Any]) -> None:
        subjects.learn_certificate(self.db, utcnow(), "cert_started", payload)

    @event_handler("certs", "cert_parts_changed")
    @once_per_event
    def on_cert_parts_changed(self, payload: dict[str, Any]) -> None:
        subjects.learn_certificate(self.db, utcnow(), "cert_parts_changed", payload)

    @event_handler("certs", "cert_expired")
    @once_per_event
    def on_cert_expired(self, payload: dict[str, Any]) -> None:
        subjects.learn_certificate(self.db, utcnow(), "cert_expired", payload)

    # policies

    @rpc(expected_exceptions=expected)
    def create_policy(self, policy: dict[str, Any]) -> dict[str, Any]:
        return policies.create_policy(self.db, self.call.guard, utcnow(), policy)

    @rpc(expected_exceptions=expected)
    def edit_policy(self, policy_id: str, policy: dict[str, Any]) -> dict[str, Any]:
        return policies.edit_policy(self.db, self.call.guard, utcnow(), policy_id, policy)

    @rpc(expected_exceptions=expected)
    def get_policy(self, policy_id: str) -> dict[str, Any]:
        return policies.view(policies.get_guarded(self.db, self.call.guard, policy_id))

    @rpc(expected_exceptions=expected)
    def list_policies(self, status: str | None = None) -> list[dict[str, Any]]:
        return policies.list_policies(self.db, self.call.guard, status)

    @rpc(expected_exceptions=expected)
    def change_policy_status(self, policy_id: str, action: str) -> dict[str, Any]:
        now = utcnow()
        policy = policies.change_status(self.db, self.call.guard, now, policy_id, action)
        result = policies.view(policy)
        if action in ("publish", "resume"):
            result["matched"] = rematch.match_policy(self.db, now, policy)
        return result

    @rpc(expected_exceptions=expected)
    def simulate_policy(self, policy_id: str) -> dict[str, Any]:
        policy = policies.get_guarded(self.db, self.call.guard, policy_id)
        return rematch.simulate(self.db, utcnow(), policy, self.call.guard.within_reach)

    # facts

    def _brief(self, subject: str) -> dict[str, Any] | None:
        try:
            brief: dict[str, Any] = self.identity.subject_brief(subject_id=subject)
        except NotFound:
            return None
        return brief

    @rpc(expected_exceptions=expected)
    def put_facts(
        self, subject: str, values: dict[str, Any], valid_until: str | None = None
    ) -> dict[str, Any]:
        return feeds.put_facts(
            self.db, self.call.guard, utcnow(), subject, values, valid_until, self._brief
        )

    @rpc(expected_exceptions=expected)
    def bulk_facts(self, batch_id: str, ndjson: str) -> dict[str, Any]:
        return feeds.bulk_facts(self.db, self.call.guard, utcnow(), batch_id, ndjson, self._brief)

    @rpc(expected_exceptions=expected)
    def subject_facts(self, subject: str) -> dict[str, Any]:
        return facts.view(matches.subject_for(self.db, self.call.guard, subject), utcnow())

    # matches and the inbox

    @rpc(expected_exceptions=expected)
    def my_matches(self) -> list[dict[str, Any]]:
        return matches.of_subjects(self.db, utcnow(), self.call.guard.mine())

    @rpc(expected_exceptions=expected)
    def subject_matches(self, subject: str) -> list[dict[str, Any]]:
        document = matches.subject_for(self.db, self.call.guard, subject)
        return matches.of_document(self.db, utcnow(), document)

    @rpc(expected_exceptions=expected)
    def my_inbox(self) -> list[dict[str, Any]]:
        return inbox.messages_for(self.db, self.call.guard.mine())

    # fact correction (自主校正) and eligible-but-not-receiving (应享未享)

    @rpc(expected_exceptions=expected)
    def dispute_fact(
        self, fact: str, proposed: Any, evidence: str, subject: str | None = None
    ) -> dict[str, Any]:
        correction = corrections.dispute(
            self.db, self.call.guard, utcnow(), subject, fact, proposed, evidence
        )
        return corrections.view(correction)

    @rpc(expected_exceptions=expected)
    def my_fact_corrections(self) -> list[dict[str, Any]]:
        return corrections.mine(self.db, self.call.guard.mine())

    @rpc(expected_exceptions=expected)
    def decide_fact_correction(
        self, correction_id: str, accept: bool, reason: str | None = None
    ) -> dict[str, Any]:
        decided, pushed = corrections.decide(
            self.db, self.call.guard, utcnow(), correction_id, bool(accept), reason
        )
        return {**corrections.view(decided), "pushed": pushed}

    @rpc(expected_exceptions=expected)
    def policy_payouts(
        self,
        policy_id: str,
        status: str | None = None,
        period: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> dict[str, Any]:
        return payouts.of_policy(self.db, self.call.guard, policy_id, status, period, limit, offset)

    @rpc(expected_exceptions=expected)
    def unreceived(self, policy_id: str) -> dict[str, Any]:
        return outreach.unreceived(self.db, self.call.guard, policy_id)

    @rpc(expected_exceptions=expected)
    def open_unreceived_tasks(self, policy_id: str) -> dict[str, Any]:
        return outreach.open_tasks(self.db, self.call.guard, utcnow(), policy_id)

    # the catalogue of fact kinds

    @rpc(expected_exceptions=expected)
    def list_fact_kinds(self) -> list[dict[str, Any]]:
        return fact_kinds.list_kinds(self.db, self.call.guard)

    @rpc(expected_exceptions=expected)
    def declare_fact_kind(self, kind: dict[str, Any]) -> dict[str, Any]:
        return fact_kinds.declare(self.db, self.call.guard, utcnow(), kind)
