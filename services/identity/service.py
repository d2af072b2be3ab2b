"""The identity service: declarations only; the logic lives in one module per concept."""

from __future__ import annotations

from typing import Any

from nameko.timer import timer

from services.common import health, outbox, proxy_acts
from services.common.access import Links
from services.common.actor import Actor
from services.common.codec import utcnow
from services.common.context import CallContext
from services.common.entrypoints import rpc
from services.common.errors import DOMAIN_ERRORS
from services.common.events import SignedEventDispatcher, event_handler
from services.common.metrics import ServiceMetrics
from services.common.mongo import MongoDatabase
from services.common.outbox_relay import OutboxRelay
from services.common.receipts import once_per_event
from services.identity import (
    access,
    accounts,
    cards,
    codes,
    delegation,
    notifications,
    orgunits,
    profiles,
    scans,
    sms,
    subjects,
)
from services.identity.bootstrap import file_scans, seed_first_admin
from services.identity.keyring import IdentitySecrets
from services.identity.store import INDEXES, IdentityStore

expected = DOMAIN_ERRORS


def local_links(worker_ctx: Any, actor: Actor) -> Links:
    """identity holds the links itself: read them from its own database."""
    return delegation.links_of(worker_ctx.service.store, actor, utcnow())


class IdentityService:
    name = "identity"

    store: IdentityStore = MongoDatabase(
        "identity", INDEXES, seeds=[seed_first_admin, file_scans], store=IdentityStore
    )
    call = CallContext(access.TABLE, links=local_links)
    metrics = ServiceMetrics()
    keys = IdentitySecrets()
    dispatch = SignedEventDispatcher()
    relay = OutboxRelay()  # a worker's events leave as it answers; the timer sends the rest

    @rpc(expected_exceptions=expected)
    def health(self) -> dict[str, Any]:
        return health.check(self.name, self.store.database)

    @timer(interval=outbox.RELAY_SECONDS)
    def relay_events(self) -> None:
        outbox.relay(self.store.database, self.dispatch, utcnow())

    # accounts and the jurisdiction tree

    @rpc(expected_exceptions=expected)
    def authenticate(
        self, username: str, password: str, address: str | None = None
    ) -> dict[str, Any]:
        hide = self.keys.pii.lookup_hash
        return accounts.authenticate(self.store, username, password, utcnow(), address, hide)

    @rpc(expected_exceptions=expected)
    def create_account(
        self,
        username: str,
        password: str,
        roles: list[str],
        org_path: str | None = None,
        display_name: str | None = None,
        subject_id: str | None = None,
        scenes: list[str] | None = None,
    ) -> dict[str, Any]:
        return accounts.create_account(
            self.store,
            self.call.guard,
            utcnow(),
            username,
            password,
            roles,
            org_path,
            display_name,
            subject_id,
            scenes,
        )

    @rpc(expected_exceptions=expected)
    def get_account(self, account_id: str) -> dict[str, Any]:
        return accounts.get_account(self.store, self.call.guard, account_id)

    @rpc(expected_exceptions=expected)
    def links_for(self) -> dict[str, Any]:
        """What the forwarded user holds through others, for another service's access check."""
        return delegation.links_of(self.store, self.call.actor, utcnow()).to_wire()

    @rpc(expected_exceptions=expected)
    def set_account_status(self, account_id: str, status: str) -> dict[str, Any]:
        return accounts.set_status(self.store, self.call.guard, utcnow(), account_id, status)

    @rpc(expected_exceptions=expected)
    def change_password(self, current: str, new: str) -> dict[str, Any]:
        return accounts.change_password(self.store, self.call.guard, utcnow(), current, new)

    @rpc(expected_exceptions=expected)
    def reset_password(self, account_id: str, new: str) -> dict[str, Any]:
        return accounts.reset_password(self.store, self.call.guard, utcnow(), account_id, new)

    @rpc(expected_exceptions=expected)
    def list_accounts(
        self, org_path: str | None = None, limit: int = 50, offset: int = 0
    ) -> dict[str, Any]:
        return accounts.list_accounts(self.store, self.call.guard, org_path, limit, offset)

    @rpc(expected_exceptions=expected)
    def create_org_unit(
        self, code: str, name: str, kind: str, parent: str | None = None
    ) -> dict[str, Any]:
        return orgunits.create_org_unit(self.store, self.call.guard, parent, code, name, kind)

    @rpc(expected_exceptions=expected)
    def get_org_unit(self, path: str) -> dict[str, Any]:
        return orgunits.get_org_unit(self.store, self.call.guard, path)

    @rpc(expected_exceptions=expected)
    def list_org_units(self, root: str | None = None) -> list[dict[str, Any]]:
        return orgunits.list_org_units(self.store, self.call.guard, root)

    @rpc(expected_exceptions=expected)
    def find_org_units(self, text: str, limit: int = 20) -> list[dict[str, Any]]:
        return orgunits.find_org_units(self.store, self.call.guard, text, limit)

    # subjects

    @rpc(expected_exceptions=expected)
    def register_person(self, **fields: Any) -> dict[str, Any]:
        return subjects.register_person(
            self.store, self.keys.pii, self.call.guard, utcnow(), **fields
        )

    @rpc(expected_exceptions=expected)
    def register_organisation(self, **fields: Any) -> dict[str, Any]:
        return subjects.register_organisation(
            self.store, self.keys.pii, self.call.guard, utcnow(), **fields
        )

    @rpc(expected_exceptions=expected)
    def subject_profiles(self, after: str = "", limit: int = 1000) -> list[dict[str, Any]]:
        """Bus only (the gateway does not expose it): for services that keep subject facts."""
        return profiles.list_profiles(self.store, after, limit)

    @rpc(expected_exceptions=expected)
    def get_subject(self, subject_id: str) -> dict[str, Any]:
        return subjects.view(subjects.get_subject(self.store, self.call.guard, subject_id))

    @rpc(expected_exceptions=expected)
    def subject_brief(self, subject_id: str) -> dict[str, Any]:
        """Bus only: for a service checking a binding (an issuer's holder, a fact's subject)."""
        return subjects.subject_brief(self.store, subject_id)

    @rpc(expected_exceptions=expected)
    def list_persons(
        self, org_path: str | None = None, limit: int = 50, offset: int = 0
    ) -> dict[str, Any]:
        return subjects.list_persons(self.store, self.call.guard, org_path, limit, offset)

    @rpc(expected_exceptions=expected)
    def add_operator(self, organisation_id: str, account_id: str, role: str) -> dict[str, Any]:
        return subjects.add_operator(
            self.store, self.call.guard, utcnow(), organisation_id, account_id, role
        )

    @rpc(expected_exceptions=expected)
    def my_organisations(self) -> list[dict[str, Any]]:
        return subjects.my_organisations(self.store, self.call.guard)

    @rpc(expected_exceptions=expected)
    def freeze_subject(self, subject_id: str, reason: str) -> dict[str, Any]:
        return subjects.set_staff_freeze(
            self.store, self.call.guard, utcnow(), subject_id, True, reason
        )

    @rpc(expected_exceptions=expected)
    def unfreeze_subject(self, subject_id: str) -> dict[str, Any]:
        return subjects.set_staff_freeze(
            self.store, self.call.guard, utcnow(), subject_id, False, None
        )

    @rpc(expected_exceptions=expected)
    def freeze_my_code(self) -> dict[str, Any]:
        return subjects.set_self_freeze(self.store, self.call.guard, True, 0)

    @rpc(expected_exceptions=expected)
    def unfreeze_my_code(self, token_age_s: float) -> dict[str, Any]:
        return subjects.set_self_freeze(self.store, self.call.guard, False, token_age_s)

    # codes and scans

    @rpc(expected_exceptions=expected)
    def issue_code(self, organisation_id: str | None = None) -> dict[str, Any]:
        return codes.issue_code(
            self.store,
            self.keys.codes,
            self.call.guard,
            utcnow(),
            self.keys.code_ttl,
            organisation_id,
        )

    @rpc(expected_exceptions=expected)
    def verify_code(
        self, token: str, scene: str, terminal_time: str | None = None
    ) -> dict[str, Any]:
        return codes.verify_code(
            self.store,
            self.keys.codes,
            self.keys.cards,
            self.keys.pii,
            self.call.guard,
            utcnow(),
            token,
            scene,
            self.keys.scenes,
            terminal_time,
        )

    @rpc(expected_exceptions=expected)
    def code_jwks(self) -> dict[str, Any]:
        return codes.jwks(self.store, (self.keys.codes, self.keys.cards), utcnow())

    @rpc(expected_exceptions=expected)
    def rotate_code_key(self, compromised: bool = False) -> dict[str, Any]:
        return codes.rotate_keys(self.store, self.keys.codes, utcnow(), bool(compromised))

    @rpc(expected_exceptions=expected)
    def rotate_card_key(self, compromised: bool = False) -> dict[str, Any]:
        return codes.rotate_keys(self.store, self.keys.cards, utcnow(), bool(compromised))

    @rpc(expected_exceptions=expected)
    def list_my_scans(self, limit: int = 20, before: str | None = None) -> dict[str, Any]:
        return scans.list_scans(self.store, self.call.guard, limit, before)

    @rpc(expected_exceptions=expected)
    def upload_scan_logs(self, terminal_id: str, entries: list[dict[str, Any]]) -> dict[str, Any]:
        return scans.upload_offline_logs(
            self.store,
            self.keys.codes,
            self.keys.cards,
            self.call.guard,
            utcnow(),
            terminal_id,
            entries,
        )

    @rpc(expected_exceptions=expected)
    def issue_printed_code(self, person_id: str) -> dict[str, Any]:
        return cards.issue(
            self.store,
            self.keys.pii,
            self.keys.cards,
            self.call.guard,
            utcnow(),
            person_id,
            self.keys.public_url,
        )

    @rpc(expected_exceptions=expected)
    def get_printed_code(self, person_id: str) -> dict[str, Any]:
        return cards.current(self.store, self.keys.pii, self.call.guard, person_id)

    @rpc(expected_exceptions=expected)
    def printed_status_list(self) -> dict[str, Any]:
        token = cards.status_list(self.store, self.keys.cards, utcnow(), self.keys.public_url)
        return {"token": token, "ttl": cards.STATUS_TTL}

    # proxies and guardians

    @rpc(expected_exceptions=expected)
    def authorize_proxy(self, **fields: Any) -> dict[str, Any]:
        return delegation.authorize_proxy(
            self.store, self.keys.pii, self.call.guard, utcnow(), **fields
        )

    @rpc(expected_exceptions=expected)
    def answer_proxy_request(self, delegation_id: str, accept: bool) -> dict[str, Any]:
        return delegation.answer_request(
            self.store, self.call.guard, utcnow(), delegation_id, bool(accept)
        )

    @rpc(expected_exceptions=expected)
    def appoint_guardian(self, **fields: Any) -> dict[str, Any]:
        return delegation.appoint_guardian(self.store, self.call.guard, utcnow(), **fields)

    @rpc(expected_exceptions=expected)
    def revoke_delegation(
        self, delegation_id: str, guardianship_of: str | None = None
    ) -> dict[str, Any]:
        return delegation.revoke(
            self.store, self.call.guard, utcnow(), delegation_id, guardianship_of
        )

    @rpc(expected_exceptions=expected)
    def list_my_delegations(self) -> dict[str, Any]:
        return delegation.list_mine(self.store, self.call.guard)

    @rpc(expected_exceptions=expected)
    def my_activity(self, limit: int = 50) -> list[dict[str, Any]]:
        return delegation.activity(self.store, self.call.guard, max(1, min(limit, 200)))

    # text messages (SMS): identity holds the phone numbers

    @event_handler("certs", proxy_acts.NAME)
    @once_per_event
    def on_certs_proxy_act(self, act: dict[str, Any]) -> None:
        delegation.record_reported_act(self.store, act)

    @event_handler("policy", proxy_acts.NAME)
    @once_per_event
    def on_policy_proxy_act(self, act: dict[str, Any]) -> None:
        delegation.record_reported_act(self.store, act)

    @event_handler("policy", "policy_pushed")
    @once_per_event
    def on_policy_pushed(self, notice: dict[str, Any]) -> None:
        now = utcnow()
        queued = notifications.queue_policy_push(self.store, now, notice)
        if queued is not None:
            notifications.deliver(self.store, self.keys.pii, now, queued, sms.to_partner)

    @timer(interval=10)
    def deliver_texts(self) -> None:
        """Retries, and texts whose first attempt a crash interrupted."""
        notifications.deliver_due(self.store, self.keys.pii, utcnow(), sms.to_partner)
