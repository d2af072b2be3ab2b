"""The policy service: declarations only; the logic lives in one module per concept."""

from __future__ import annotations

from typing import Any

from nameko.events import event_handler
from nameko.rpc import RpcProxy, rpc
from nameko.timer import timer

from services.common import (
    health,
    remote,  # noqa: F401 - remote domain errors stay domain errors
)
from services.common.actor import Actor
from services.common.codec import parse_time, utcnow
from services.common.context import CallContext
from services.common.errors import DOMAIN_ERRORS, Forbidden, NotFound
from services.common.mongo import MongoDatabase
from services.policy import certfacts, facts, inbox, matching, policies, rematch
from services.policy.store import INDEXES

expected = DOMAIN_ERRORS
FEED_ROLES = ("staff", "supervisor", "admin", "partner")


class PolicyService:
    name = "policy"

    db = MongoDatabase("policy", INDEXES)
    call = CallContext()
    identity = RpcProxy("identity")

    @rpc(expected_exceptions=expected)
    def health(self) -> dict[str, Any]:
        return health.check(self.name, self.db)

    # what other services tell us

    @event_handler("identity", "subject_registered")
    def on_subject_registered(self, payload: dict[str, Any]) -> None:
        self._learn_subject(payload)

    @timer(interval=30)
    def sync_subjects(self) -> None:
        """Subjects registered before this service listened (or while it was down)."""
        state = self.db.sync_state.find_one({"_id": "subjects"}) or {"after": ""}
        page = self.identity.subject_profiles(after=state["after"], limit=500)
        for profile in page:
            self._learn_subject(profile)
        if page:
            self.db.sync_state.replace_one(
                {"_id": "subjects"}, {"after": page[-1]["subject"]}, upsert=True
            )

    def _learn_subject(self, profile: dict[str, Any]) -> None:
        now = utcnow()
        values = {"subject_type": profile["kind"], "org_unit": profile["org_path"]}
        if profile.get("birth_date"):
            values["birth_date"] = profile["birth_date"]
        _doc, changed = facts.put_facts(
            self.db,
            now,
            profile["subject"],
            values,
            "identity",
            profile={"kind": profile["kind"], "org_path": profile["org_path"]},
        )
        rematch.rematch_subject(self.db, now, profile["subject"], changed or None)

    def _certificate_event(self, event_type: str, payload: dict[str, Any]) -> None:
        now = utcnow()
        subject = str(payload["subject"])
        values, forget = certfacts.facts_from(event_type, payload)
        kind = "person" if subject.startswith("p_") else "organisation"
        _doc, changed = facts.put_facts(
            self.db, now, subject, values, "certs", profile={"kind": kind}
        )
        changed += facts.remove_facts(self.db, now, subject, forget, "certs")
        rematch.rematch_subject(self.db, now, subject, changed)

    @event_handler("certs", "cert_issued")
    def on_cert_issued(self, payload: dict[str, Any]) -> None:
        self._certificate_event("cert_issued", payload)

    @event_handler("certs", "cert_amended")
    def on_cert_amended(self, payload: dict[str, Any]) -> None:
        self._certificate_event("cert_amended", payload)

    @event_handler("certs", "cert_revoked")
    def on_cert_revoked(self, payload: dict[str, Any]) -> None:
        self._certificate_event("cert_revoked", payload)

    @event_handler("certs", "cert_suspended")
    def on_cert_suspended(self, payload: dict[str, Any]) -> None:
        self._certificate_event("cert_suspended", payload)

    @event_handler("certs", "cert_resumed")
    def on_cert_resumed(self, payload: dict[str, Any]) -> None:
        self._certificate_event("cert_resumed", payload)

    @event_handler("certs", "cert_expired")
    def on_cert_expired(self, payload: dict[str, Any]) -> None:
        self._certificate_event("cert_expired", payload)

    # policies

    @rpc(expected_exceptions=expected)
    def create_policy(self, policy: dict[str, Any]) -> dict[str, Any]:
        return policies.create_policy(self.db, self.call.actor, utcnow(), policy)

    @rpc(expected_exceptions=expected)
    def edit_policy(self, policy_id: str, policy: dict[str, Any]) -> dict[str, Any]:
        return policies.edit_policy(self.db, self.call.actor, utcnow(), policy_id, policy)

    @rpc(expected_exceptions=expected)
    def get_policy(self, policy_id: str) -> dict[str, Any]:
        return policies.view(policies.get(self.db, policy_id))

    @rpc(expected_exceptions=expected)
    def list_policies(self, status: str | None = None) -> list[dict[str, Any]]:
        return policies.list_policies(self.db, status)

    @rpc(expected_exceptions=expected)
    def change_policy_status(self, policy_id: str, action: str) -> dict[str, Any]:
        now = utcnow()
        policy = policies.change_status(self.db, self.call.actor, now, policy_id, action)
        result = policies.view(policy)
        if action in ("publish", "resume"):
            result["matched"] = rematch.match_policy(self.db, now, policy)
        return result

    @rpc(expected_exceptions=expected)
    def simulate_policy(self, policy_id: str) -> dict[str, Any]:
        policy = policies.get(self.db, policy_id)
        policies.require_owner(self.call.actor, policy)
        return rematch.simulate(self.db, utcnow(), policy)

    # facts

    def _require_feed(self) -> Actor:
        actor = self.call.actor
        if actor.client_id and "facts:write" not in actor.scopes:
            raise Forbidden("this client lacks the facts:write scope")
        actor.require_role(*FEED_ROLES)
        return actor

    def _source(self, actor: Actor) -> str:
        return f"partner:{actor.client_id}" if actor.client_id else f"staff:{actor.account_id}"

    @rpc(expected_exceptions=expected)
    def put_facts(
        self, subject: str, values: dict[str, Any], valid_until: str | None = None
    ) -> dict[str, Any]:
        actor = self._require_feed()
        subject = facts.validate_subject(subject)
        values = facts.validate_values(values)
        now = utcnow()
        until = parse_time(valid_until, "valid_until") if valid_until else None
        if (
            not actor.client_id
            and not rematch.in_jurisdiction(
                self.db.facts.find_one({"_id": subject}), actor.org_path
            )
            and not actor.is_admin
        ):
            raise NotFound("no such subject", field="subject")
        document, changed = facts.put_facts(
            self.db, now, subject, values, self._source(actor), until
        )
        pushed = rematch.rematch_subject(self.db, now, subject, changed)
        return {
            "subject": subject,
            "changed": changed,
            "pushed": pushed,
            "facts": facts.view(document, now),
        }

    @rpc(expected_exceptions=expected)
    def bulk_facts(self, batch_id: str, ndjson: str) -> dict[str, Any]:
        actor = self._require_feed()
        if not (actor.client_id or actor.is_admin):
            raise Forbidden("bulk feeds come from partner systems (or an administrator)")
        now, source = utcnow(), self._source(actor)
        earlier = facts.claim_batch(self.db, now, source, batch_id)
        if earlier is not None:
            return {**earlier, "repeated": True}
        good, bad = facts.parse_bulk(ndjson)
        applied = 0
        for _line, subject, values, until in good:
            _doc, changed = facts.put_facts(self.db, now, subject, values, source, until)
            rematch.rematch_subject(self.db, now, subject, changed)
            applied += 1
        report = {"batch_id": batch_id, "source": source, "applied": applied, "errors": bad}
        facts.record_batch(self.db, now, source, batch_id, report)
        return {**report, "repeated": False}

    def _subject_for_staff(self, subject: str) -> dict[str, Any]:
        actor = self.call.actor
        actor.require_role("staff", "supervisor", "admin")
        document = self.db.facts.find_one({"_id": subject}) if isinstance(subject, str) else None
        if document is None or not (
            actor.is_admin or rematch.in_jurisdiction(document, actor.org_path)
        ):
            raise NotFound("no such subject")
        return document

    @rpc(expected_exceptions=expected)
    def subject_facts(self, subject: str) -> dict[str, Any]:
        return facts.view(self._subject_for_staff(subject), utcnow())

    # matches and the inbox

    def _matches(self, document: dict[str, Any] | None) -> list[dict[str, Any]]:
        if document is None or not document.get("kind"):
            return []
        now = utcnow()
        values = facts.with_derived(facts.current(document, now), now.date())
        return [
            {"subject": document["_id"], **matching.match(p, values, now.date())}
            for p in rematch.published(self.db, document["kind"])
        ]

    def _my_subjects(self) -> list[str]:
        actor = self.call.actor
        operated = [o["id"] for o in self.identity.my_organisations()]
        represented = self.identity.principals_for(scope="apply")
        return ([actor.subject_id] if actor.subject_id else []) + operated + represented

    @rpc(expected_exceptions=expected)
    def my_matches(self) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = []
        for subject in self._my_subjects():
            results += self._matches(self.db.facts.find_one({"_id": subject}))
        return results

    @rpc(expected_exceptions=expected)
    def subject_matches(self, subject: str) -> list[dict[str, Any]]:
        return self._matches(self._subject_for_staff(subject))

    @rpc(expected_exceptions=expected)
    def my_inbox(self) -> list[dict[str, Any]]:
        return inbox.messages_for(self.db, self._my_subjects())
