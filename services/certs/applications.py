"""Applying for a certificate, the e-disability certificate way (Hulan: application to
certificate in 20 minutes): the person or their proxy applies → staff of the person's area
review → the doctor signs the assessment in from an assessor's account of the issuing
department (category, grade; the doctor named from the account, never typed) → the issuing
department issues. Each step is a compare-and-set transition (common.claims) that records
who, when, and how long the system itself took; the applicant follows every step.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from services.certs import access, certificates, issuers
from services.certs.access import issuer as issuer_resource
from services.certs.catalogue import DISABILITY_CATEGORIES, DISABILITY_GRADES
from services.certs.store import CertsStore
from services.common import outbox, proxy_acts
from services.common.access import Guard
from services.common.actor import Actor, within
from services.common.codec import city_day, to_wire
from services.common.document import Document
from services.common.errors import Conflict, InvalidInput, NotFound

TYPE = "disability_certificate"


def view(application: Document) -> dict[str, Any]:
    return to_wire(
        {
            "id": application["_id"],
            "type": application["type"],
            "status": application["status"],
            "applicant": application["applicant"],
            "steps": application["steps"],
            "certificate_id": application.get("certificate_id"),
            "filed_by": application.get("filed_by"),
            "system_ms": round(sum(s.get("system_ms", 0) for s in application["steps"]), 1),
            "submitted_at": application["submitted_at"],
        }
    )


def _step(name: str, actor: Actor, now: datetime, started: float, **detail: Any) -> Document:
    return {
        "step": name,
        "by": actor.account_id,
        "by_name": actor.name,
        "at": now,
        "system_ms": round((time.perf_counter() - started) * 1000, 2),
        **detail,
    }


def apply(
    store: CertsStore,
    actor: Actor,
    now: datetime,
    applicant: dict[str, Any],
    proxy: str | None,
    note: str | None,
    started: float,
    filed_by: str | None = None,
) -> dict[str, Any]:
    """An application by the person or their proxy, or filed for them by a clerk of their
    area (``filed_by``: 后台录入)."""
    if applicant["kind"] != "person":
        raise InvalidInput("a disability certificate is applied for by a person", field="subject")
    open_one = store.open_application(applicant["id"], TYPE, ["submitted", "reviewed", "assessed"])
    if open_one is not None:
        raise Conflict("an application is already in progress", state=open_one["status"])
    application = {
        "_id": "app_" + secrets.token_hex(8),
        "type": TYPE,
        "applicant": applicant["id"],
        "applicant_name": applicant["name"],
        "org_path": applicant["org_path"],
        "status": "submitted",
        "submitted_at": now,
        "proxy": proxy,
        "note": note,
        "filed_by": filed_by,
        "steps": [_step("submitted", actor, now, started, proxy=proxy, filed_by=filed_by)],
    }
    if proxy is not None:
        act = proxy_acts.acted(applicant["id"], proxy, actor, "apply", application["_id"], now)
        store.stage_events(now, outbox.Commit("applications", application["_id"]), act)
    store.insert_application(application)
    return view(application)


def _get(store: CertsStore, application_id: Any) -> Document:
    application = (
        store.load_application(application_id) if isinstance(application_id, str) else None
    )
    if application is None:
        raise NotFound("no such application")
    return application


def _move(
    store: CertsStore,
    application: Document,
    expected: str,
    target: str,
    step: Document,
    now: datetime,
    extra: Document | None = None,
) -> dict[str, Any]:
    if application["status"] != expected:
        raise Conflict(f"the application is {application['status']}", state=application["status"])
    updated = store.advance_application(
        application,
        {"$set": {"status": target, **(extra or {})}, "$push": {"steps": step}},
        now,
    )
    return view(updated)


def load_guarded(store: CertsStore, guard: Guard, application_id: Any) -> Document:
    """The application, if the operation's rule allows it: its applicant (or a proxy with the
    ``apply`` scope), staff of the applicant's area, staff of a department issuing its type
    whose area holds the applicant (another district's 残联 does not see it)."""
    application = _get(store, application_id)
    owners = _issuer_units(store, application["org_path"])
    guard.require(access.application(application, owners), "no such application")
    return application


def _issuer_units(store: CertsStore, applicant_unit: str) -> tuple[str, ...]:
    return _serving(_issuers(store), applicant_unit)


def _issuers(store: CertsStore) -> list[Document]:
    return store.issuers_of_type(TYPE, {"org_path": 1, "area": 1})


def _serving(issuers_of_type: list[Document], applicant_unit: str) -> tuple[str, ...]:
    """The units of the issuers of the type whose area holds the applicant's."""
    return tuple(
        sorted(i["org_path"] for i in issuers_of_type if within(applicant_unit, access.area_of(i)))
    )


def review(
    store: CertsStore,
    guard: Guard,
    now: datetime,
    application_id: str,
    approve: bool,
    reason: str | None,
    started: float,
) -> dict[str, Any]:
    application = load_guarded(store, guard, application_id)
    actor = guard.actor
    if not approve and not (reason and reason.strip()):
        raise InvalidInput("a reason is required to reject", field="reason")
    step = _step("reviewed" if approve else "rejected", actor, now, started, reason=reason)
    return _move(store, application, "submitted", "reviewed" if approve else "rejected", step, now)


def assess(
    store: CertsStore,
    guard: Guard,
    now: datetime,
    application_id: str,
    issuer_id: str,
    category: str,
    grade: str,
    started: float,
) -> dict[str, Any]:
    """The assessment, signed by the doctor's own account: who assessed is the account that
    did it (its display name on the certificate, its id in the step), so no clerk can put a
    doctor's name to an assessment the doctor never made."""
    application = load_guarded(store, guard, application_id)
    issuer = issuers.get_issuer(store, issuer_id)
    guard.require(issuer_resource(issuer), "no such issuer", field="issuer")
    if TYPE not in issuer["types"]:
        raise InvalidInput("this issuer does not issue disability certificates", field="issuer")
    actor = guard.actor
    if category not in DISABILITY_CATEGORIES:
        raise InvalidInput(f"one of {', '.join(DISABILITY_CATEGORIES)}", field="category")
    if grade not in DISABILITY_GRADES:
        raise InvalidInput(f"one of {', '.join(DISABILITY_GRADES)}", field="grade")
    assessment = {
        "category": category,
        "grade": grade,
        "assessor": actor.name,
        "assessor_account": actor.account_id,
        "assessed_on": city_day(now).isoformat(),
        "issuer": issuer_id,
    }
    step = _step("assessed", actor, now, started, assessment=assessment)
    return _move(store, application, "reviewed", "assessed", step, now, {"assessment": assessment})


def ready_to_issue(store: CertsStore, guard: Guard, application_id: str) -> Document:
    """An assessed application, for staff of the department that assessed it."""
    application = load_guarded(store, guard, application_id)
    assessed_by = (application.get("assessment") or {}).get("issuer")
    if assessed_by is not None:
        guard.require(
            issuer_resource(issuers.get_issuer(store, assessed_by)), "no such application"
        )
    if application["status"] == "issued":
        return application
    if application["status"] != "assessed":
        raise Conflict(f"the application is {application['status']}", state=application["status"])
    return application


def mark_issued(
    store: CertsStore,
    actor: Actor,
    now: datetime,
    application: Document,
    certificate_id: str,
    started: float,
) -> dict[str, Any]:
    if application["status"] == "issued":
        return view(application)
    step = _step("issued", actor, now, started, certificate_id=certificate_id)
    return _move(
        store, application, "assessed", "issued", step, now, {"certificate_id": certificate_id}
    )


def issue_from(
    store: CertsStore,
    wrap_key: bytes,
    guard: Guard,
    now: datetime,
    application_id: str,
    brief: Callable[[str], dict[str, Any]],
    started: float,
) -> dict[str, Any]:
    """The issuing department issues the certificate an application's assessment names
    (once: the request id is the application's); ``brief`` asks identity for the holder."""
    application = ready_to_issue(store, guard, application_id)
    if application["status"] == "issued":
        return view(application)
    assessment = application["assessment"]
    fields = {k: assessment[k] for k in ("category", "grade", "assessor", "assessed_on")}
    certificate, _new = certificates.issue(
        store,
        wrap_key,
        guard.actor.account_id,
        now,
        brief(application["applicant"]),
        issuers.get_issuer(store, assessment["issuer"]),
        TYPE,
        fields,
        f"application:{application_id}",
    )
    return mark_issued(store, guard.actor, now, application, certificate["id"], started)


STATES = ("submitted", "reviewed", "rejected", "assessed", "issued")


def queue(
    store: CertsStore, guard: Guard, status: str | None, limit: int = 200
) -> list[dict[str, Any]]:
    """The work queue of staff: applications of their area (to review) or of their issuing
    department (to assess and issue), by state, oldest first, with the applicant's name."""
    if status is not None and status not in STATES:
        raise InvalidInput(f"one of {', '.join(STATES)}", field="status")
    found = store.applications(TYPE, status)
    issuers_of_type = _issuers(store)
    shown = guard.filter(
        found, lambda a: access.application(a, _serving(issuers_of_type, a["org_path"]))
    )
    return [{**view(a), "applicant_name": a.get("applicant_name")} for a in shown[:limit]]


def mine(store: CertsStore, holders: list[str]) -> list[dict[str, Any]]:
    return [view(a) for a in store.applications_of(holders, 50)]


def get(store: CertsStore, guard: Guard, application_id: str) -> dict[str, Any]:
    return view(load_guarded(store, guard, application_id))
