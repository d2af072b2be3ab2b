"""The certs service: declarations only; the logic lives in one module per concept."""

from __future__ import annotations

import os
import time
from functools import partial
from typing import Any

from nameko.timer import timer

from services.certs import (
    access,
    applications,
    catalogue,
    certificates,
    composite,
    filing,
    issuers,
    keyring,
    presentations,
    statuslist,
)
from services.certs.keyring import CheckCodeKey, IssuerKeys
from services.certs.store import INDEXES, CertsStore
from services.common import (
    health,
    outbox,
    remote,  # noqa: F401 - remote domain errors stay domain errors
)
from services.common.codec import city_day, utcnow
from services.common.context import CallContext, links_from_identity
from services.common.entrypoints import rpc
from services.common.errors import DOMAIN_ERRORS
from services.common.events import SignedEventDispatcher, event_handler
from services.common.metrics import ServiceMetrics
from services.common.mongo import MongoDatabase
from services.common.outbox_relay import OutboxRelay
from services.common.sealed_rpc import SealedRpcProxy

expected = DOMAIN_ERRORS
# How often expired certificates are announced (cert_expired); an environment setting
# because nameko reads a timer's interval when the class is defined.
EXPIRY_SWEEP_SECONDS = float(os.environ.get("CERT_EXPIRY_SWEEP_SECONDS", "60"))


class CertsService:
    name = "certs"

    store: CertsStore = MongoDatabase(
        "certs", INDEXES, seeds=[catalogue.seed, filing.seed], store=CertsStore
    )
    call = CallContext(access.TABLE, links=links_from_identity)
    metrics = ServiceMetrics()
    wrap_key = IssuerKeys()
    check_key = CheckCodeKey()
    identity = SealedRpcProxy("identity")
    dispatch = SignedEventDispatcher()
    relay = OutboxRelay()  # a worker's events leave as it answers; the timer sends the rest

    @timer(interval=EXPIRY_SWEEP_SECONDS)
    def announce_expired(self) -> None:
        now = utcnow()
        certificates.newly_started(self.store, now)
        certificates.newly_expired(self.store, now)

    # A composite licence follows its parts (services.certs.composite); these events are
    # what makes it durable: the same work also runs right after the staff action.
    @event_handler("certs", "cert_issued")
    def part_issued(self, payload: dict[str, Any]) -> None:
        composite.follow(self.store, self.wrap_key, utcnow(), payload)

    @event_handler("certs", "cert_amended")
    def part_amended(self, payload: dict[str, Any]) -> None:
        composite.follow(self.store, self.wrap_key, utcnow(), payload)

    @event_handler("certs", "cert_suspended")
    def part_suspended(self, payload: dict[str, Any]) -> None:
        composite.follow(self.store, self.wrap_key, utcnow(), payload)

    @event_handler("certs", "cert_resumed")
    def part_resumed(self, payload: dict[str, Any]) -> None:
        composite.follow(self.store, self.wrap_key, utcnow(), payload)

    @event_handler("certs", "cert_revoked")
    def part_revoked(self, payload: dict[str, Any]) -> None:
        composite.follow(self.store, self.wrap_key, utcnow(), payload)

    @event_handler("certs", "cert_started")
    def part_started(self, payload: dict[str, Any]) -> None:
        composite.follow(self.store, self.wrap_key, utcnow(), payload)

    @event_handler("certs", "cert_expired")
    def part_expired(self, payload: dict[str, Any]) -> None:
        composite.follow(self.store, self.wrap_key, utcnow(), payload)

    @timer(interval=outbox.RELAY_SECONDS)
    def relay_events(self) -> None:
        outbox.relay(self.store.database, self.dispatch, utcnow())

    @rpc(expected_exceptions=expected)
    def health(self) -> dict[str, Any]:
        return health.check(self.name, self.store.database)

    @rpc(expected_exceptions=expected)
    def list_types(self) -> list[dict[str, Any]]:
        return catalogue.list_types(self.store)

    @rpc(expected_exceptions=expected)
    def create_issuer(
        self, code: str, name: str, org_path: str, types: list[str], area: str | None = None
    ) -> dict[str, Any]:
        if area is not None:
            self.identity.get_org_unit(path=area)  # the area must exist
        return issuers.create_issuer(self.store, self.wrap_key, code, name, org_path, types, area)

    @rpc(expected_exceptions=expected)
    def list_issuers(self) -> list[dict[str, Any]]:
        return issuers.list_issuers(self.store)

    @rpc(expected_exceptions=expected)
    def issuer_keys(self) -> dict[str, Any]:
        keys = issuers.public_keys(self.store)
        return {**keys, "wallet_keys": keyring.wallet_jwks(self.store, self.wrap_key, utcnow())}

    @rpc(expected_exceptions=expected)
    def issue_certificate(
        self,
        issuer: str,
        type: str,
        subject: str,
        fields: dict[str, Any],
        request_id: str,
        valid_from: str | None = None,
        valid_until: str | None = None,
    ) -> dict[str, Any]:
        holder = self.identity.subject_brief(subject_id=subject)
        certificate, new = certificates.issue_certificate(
            self.store,
            self.wrap_key,
            self.call.guard,
            utcnow(),
            holder,
            issuer,
            type,
            fields,
            request_id,
            valid_from,
            valid_until,
        )
        if new:  # also on the event, should this worker die first
            composite.follow(self.store, self.wrap_key, utcnow(), certificate)
        return certificate

    @rpc(expected_exceptions=expected)
    def amend_certificate(
        self,
        certificate_id: str,
        fields: dict[str, Any],
        reason: str,
        valid_until: str | None = None,
    ) -> dict[str, Any]:
        amended = certificates.amend_certificate(
            self.store,
            self.wrap_key,
            self.call.guard,
            utcnow(),
            certificate_id,
            fields,
            reason,
            valid_until,
        )
        composite.follow(self.store, self.wrap_key, utcnow(), amended)
        return amended

    @rpc(expected_exceptions=expected)
    def certificates_of(self, subject: str) -> list[dict[str, Any]]:
        return certificates.by_subject(
            self.store, self.call.guard, self.check_key, subject, city_day(utcnow())
        )

    @rpc(expected_exceptions=expected)
    def certificate_versions(self, certificate_id: str) -> list[dict[str, Any]]:
        return certificates.versions(
            self.store, self.call.guard, certificate_id, city_day(utcnow())
        )

    @rpc(expected_exceptions=expected)
    def change_status(self, certificate_id: str, action: str, reason: str) -> dict[str, Any]:
        changed = certificates.change_status(
            self.store, self.call.guard, utcnow(), certificate_id, action, reason
        )
        composite.follow(self.store, self.wrap_key, utcnow(), changed)
        return changed

    @rpc(expected_exceptions=expected)
    def apply_for_certificate(self, note: str | None = None) -> dict[str, Any]:
        started, actor = time.perf_counter(), self.call.actor
        target, proxy = self.call.guard.acting_for()
        applicant = self.identity.subject_brief(subject_id=target)
        return applications.apply(self.store, actor, utcnow(), applicant, proxy, note, started)

    @rpc(expected_exceptions=expected)
    def file_application(self, subject: str, note: str | None = None) -> dict[str, Any]:
        started, guard = time.perf_counter(), self.call.guard
        brief = self.identity.subject_brief(subject_id=subject)
        guard.require(access.applicant(brief), "no such person", field="subject")
        account = guard.actor.account_id
        return applications.apply(
            self.store, guard.actor, utcnow(), brief, None, note, started, filed_by=account
        )

    @rpc(expected_exceptions=expected)
    def list_applications(self, status: str | None = None) -> list[dict[str, Any]]:
        return applications.queue(self.store, self.call.guard, status)

    @rpc(expected_exceptions=expected)
    def review_application(
        self, application_id: str, approve: bool, reason: str | None = None
    ) -> dict[str, Any]:
        return applications.review(
            self.store,
            self.call.guard,
            utcnow(),
            application_id,
            approve,
            reason,
            time.perf_counter(),
        )

    @rpc(expected_exceptions=expected)
    def assess_application(
        self, application_id: str, issuer: str, category: str, grade: str
    ) -> dict[str, Any]:
        return applications.assess(
            self.store,
            self.call.guard,
            utcnow(),
            application_id,
            issuer,
            category,
            grade,
            time.perf_counter(),
        )

    @rpc(expected_exceptions=expected)
    def issue_from_application(self, application_id: str) -> dict[str, Any]:
        return applications.issue_from(
            self.store,
            self.wrap_key,
            self.call.guard,
            utcnow(),
            application_id,
            presentations.standing_in(self.identity),
            time.perf_counter(),
        )

    @rpc(expected_exceptions=expected)
    def my_applications(self) -> list[dict[str, Any]]:
        return applications.mine(self.store, self.call.guard.mine())

    @rpc(expected_exceptions=expected)
    def get_application(self, application_id: str) -> dict[str, Any]:
        return applications.get(self.store, self.call.guard, application_id)

    @rpc(expected_exceptions=expected)
    def my_certificates(self) -> list[dict[str, Any]]:
        subjects = self.call.guard.mine()
        return certificates.wallet(self.store, subjects, self.check_key, city_day(utcnow()))

    @rpc(expected_exceptions=expected)
    def my_certificate_card(self, certificate_id: str) -> dict[str, Any]:
        return certificates.card(
            self.store, self.call.guard, self.check_key, certificate_id, city_day(utcnow())
        )

    @rpc(expected_exceptions=expected)
    def create_presentation(
        self,
        certificate_ids: list[str],
        fields: list[str],
        audience: str | None = None,
        ttl_seconds: int | None = None,
    ) -> dict[str, Any]:
        now = utcnow()
        key = keyring.wallet_signing_key(self.store, self.wrap_key, now)
        return presentations.create(
            self.store,
            key,
            self.call.guard,
            now,
            certificate_ids,
            fields,
            audience,
            ttl_seconds,
            presentations.standing_in(self.identity),
        )

    @rpc(expected_exceptions=expected)
    def revoke_presentation(self, presentation_id: str) -> dict[str, Any]:
        return presentations.revoke(self.store, self.call.guard, presentation_id)

    @rpc(expected_exceptions=expected)
    def verify_presentation(self, token: str, purpose: str | None = None) -> dict[str, Any]:
        now = utcnow()
        return presentations.verify(
            self.store,
            self.call.actor,
            now,
            token,
            partial(keyring.checking_keys, self.store, self.wrap_key, now),
            purpose,
            presentations.standing_in(self.identity),
        )

    @rpc(expected_exceptions=expected)
    def my_disclosures(self, limit: int = 50) -> list[dict[str, Any]]:
        subjects = self.call.guard.mine()
        return presentations.my_disclosures(self.store, subjects, max(1, min(limit, 200)))

    @rpc(expected_exceptions=expected)
    def disclosure_stats(self, issuer_id: str) -> dict[str, Any]:
        return presentations.disclosure_stats(self.store, self.call.guard, issuer_id)

    @rpc(expected_exceptions=expected)
    def public_check(self, number: str, code: str | None = None) -> dict[str, Any]:
        return certificates.public_check(
            self.store, self.check_key, number, code, city_day(utcnow())
        )

    @rpc(expected_exceptions=expected)
    def status_list(self, issuer_id: str) -> dict[str, Any]:
        return statuslist.publish(self.store, self.wrap_key, issuer_id, utcnow())
