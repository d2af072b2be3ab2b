"""Subjects: persons and organisations, each known across services by a pseudonymous
``sub`` (``p_…`` / ``o_…``) that carries nothing about them.

Staff register subjects in their jurisdiction. Everything is validated before anything is
written; the one two-document write (a person and their login) is undone if its second half
fails, so an error leaves nothing behind.
"""

from __future__ import annotations

import re
import secrets
from datetime import date, datetime
from typing import Any

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from services.common.actor import Actor, ancestors
from services.common.codec import to_wire
from services.common.errors import Conflict, Forbidden, InvalidInput, NotFound
from services.common.mongo import Document
from services.common.text import name as checked_name
from services.identity import accounts
from services.identity.idnumbers import age_on, parse_credit_code, parse_resident_id
from services.identity.orgunits import require_unit
from services.identity.pii import PiiKeys

_PHONE = re.compile(r"^1[3-9]\d{9}$")
CONCESSIONS = frozenset({"none", "elderly", "disabled", "student", "veteran"})
OPERATOR_ROLES = frozenset({"legal_representative", "operator"})


def new_sub(kind: str) -> str:
    return f"{kind}_{secrets.token_hex(8)}"


def _require_staff_over(actor: Actor, org_path: str | None, field: str = "org_path") -> str:
    actor.require_role("staff", "supervisor", "admin")
    if not isinstance(org_path, str) or not actor.reaches(org_path):
        raise NotFound("no such org unit", field=field)
    return org_path


def concession_for(person: Document, today: date) -> str:
    explicit = person.get("concession") or "none"
    if explicit != "none":
        return str(explicit)
    born = date.fromisoformat(person["birth_date"])
    return "elderly" if age_on(born, today) >= 60 else "none"


def is_frozen(subject: Document) -> bool:
    return bool(subject.get("frozen_self") or subject.get("frozen_staff"))


def status_of(subject: Document) -> str:
    if subject.get("status") == "deceased":
        return "deceased"
    return "frozen" if is_frozen(subject) else subject.get("status", "active")


def person_view(person: Document) -> dict[str, Any]:
    return to_wire(
        {
            "id": person["_id"],
            "kind": "person",
            "name": person["name"],
            "id_number_masked": person["id_number"]["masked"],
            "phone_masked": (person.get("phone") or {}).get("masked"),
            "birth_date": person["birth_date"],
            "sex": person["sex"],
            "org_path": person["org_path"],
            "status": status_of(person),
            "frozen_by_self": bool(person.get("frozen_self")),
            "frozen_by_staff": person.get("frozen_staff"),
            "concession": person.get("concession", "none"),
            "medical_insurance": bool(person.get("medical_insurance")),
            "account_id": person.get("account_id"),
            "created_at": person["created_at"],
        }
    )


def organisation_view(org: Document) -> dict[str, Any]:
    return to_wire(
        {
            "id": org["_id"],
            "kind": "organisation",
            "name": org["name"],
            "credit_code_masked": org["credit_code"]["masked"],
            "legal_representative": org.get("legal_representative"),
            "org_path": org["org_path"],
            "status": status_of(org),
            "frozen_by_staff": org.get("frozen_staff"),
            "created_at": org["created_at"],
        }
    )


def register_person(
    db: Database[Document],
    keys: PiiKeys,
    actor: Actor,
    now: datetime,
    name: str,
    id_number: str,
    org_path: str,
    phone: str | None = None,
    birth_date: str | None = None,
    sex: str | None = None,
    concession: str = "none",
    medical_insurance: bool = False,
    account: dict[str, Any] | None = None,
) -> dict[str, Any]:
    org_path = _require_staff_over(actor, org_path)
    require_unit(db, org_path, "org_path")
    name = checked_name(name)
    resident = parse_resident_id(id_number, today=now.date())
    if birth_date is not None and birth_date != resident.birth_date.isoformat():
        raise InvalidInput("does not match the birth date in the ID number", field="birth_date")
    if sex is not None and sex != resident.sex:
        raise InvalidInput("does not match the sex in the ID number", field="sex")
    if phone is not None and (not isinstance(phone, str) or not _PHONE.match(phone)):
        raise InvalidInput("an 11-digit mainland mobile number is required", field="phone")
    if concession not in CONCESSIONS:
        raise InvalidInput(f"one of {', '.join(sorted(CONCESSIONS))}", field="concession")
    sub = new_sub("p")
    login = _prepare_login(db, actor, now, account, sub, org_path, name)
    person: Document = {
        "_id": sub,
        "name": name,
        "id_number": keys.protect(resident.number, f"person:{sub}"),
        "phone": keys.protect(phone, f"person:{sub}:phone", keep=(3, 4)) if phone else None,
        "birth_date": resident.birth_date.isoformat(),
        "sex": resident.sex,
        "org_path": org_path,
        "org_ancestors": ancestors(org_path),
        "status": "active",
        "frozen_self": False,
        "frozen_staff": None,
        "concession": concession,
        "medical_insurance": bool(medical_insurance),
        "account_id": login["_id"] if login else None,
        "created_at": now,
        "created_by": actor.account_id,
    }
    try:
        db.persons.insert_one(person)
    except DuplicateKeyError as exc:
        raise Conflict(
            "a person with this ID number is already registered", field="id_number"
        ) from exc
    if login is not None:
        try:
            db.accounts.insert_one(login)
        except DuplicateKeyError as exc:
            db.persons.delete_one({"_id": sub})  # undo the first half: nothing half-written
            raise Conflict("this username is taken", field="account.username") from exc
    return person_view(person)


def _prepare_login(
    db: Database[Document],
    actor: Actor,
    now: datetime,
    account: dict[str, Any] | None,
    sub: str,
    org_path: str,
    name: str,
) -> Document | None:
    """Validate the optional login fully before anything is written."""
    if account is None:
        return None
    username = account.get("username")
    password = account.get("password")
    if not isinstance(username, str) or not accounts.USERNAME.match(username):
        raise InvalidInput("3–64 letters, digits or . _ @ -", field="account.username")
    if not isinstance(password, str) or not 8 <= len(password) <= 128:
        raise InvalidInput("a password of 8–128 characters is required", field="account.password")
    if db.accounts.find_one({"username": username.lower()}, {"_id": 1}) is not None:
        raise Conflict("this username is taken", field="account.username")
    return accounts.build_account(
        username, password, ["citizen"], org_path, name, sub, [], now, actor.account_id
    )


def find_subject(db: Database[Document], sub: str) -> Document | None:
    collection = db.persons if sub.startswith("p_") else db.organisations
    return collection.find_one({"_id": sub})


def get_subject_in_jurisdiction(db: Database[Document], actor: Actor, sub: str) -> Document:
    subject = find_subject(db, sub) if isinstance(sub, str) else None
    if subject is None or not (actor.is_staff and actor.reaches(subject["org_path"])):
        raise NotFound("no such subject")
    return subject


def subject_brief(db: Database[Document], actor: Actor, sub: Any) -> dict[str, Any]:
    """For another department's staff (an issuer): that the subject exists, its kind, name and
    status; nothing else about it."""
    actor.require_role("staff", "supervisor", "admin")
    subject = find_subject(db, sub) if isinstance(sub, str) and sub[:2] in ("p_", "o_") else None
    if subject is None:
        raise NotFound("no such subject", field="subject")
    kind = "person" if sub.startswith("p_") else "organisation"
    return {
        "id": subject["_id"],
        "kind": kind,
        "name": subject["name"],
        "status": status_of(subject),
        "org_path": subject["org_path"],
    }


def acting_brief(db: Database[Document], actor: Actor, now: datetime, scope: str) -> dict[str, Any]:
    """The brief of whom the caller acts for in ``scope`` (themself, or through a delegation)."""
    from services.identity.delegation import acting_subject  # delegation builds on subjects

    sub, _proxy = acting_subject(db, actor, scope, now)
    subject = find_subject(db, sub)
    if subject is None:
        raise NotFound("no such subject")
    kind = "person" if sub.startswith("p_") else "organisation"
    return {
        "id": sub,
        "kind": kind,
        "name": subject["name"],
        "status": status_of(subject),
        "org_path": subject["org_path"],
    }


def view(subject: Document) -> dict[str, Any]:
    return person_view(subject) if subject["_id"].startswith("p_") else organisation_view(subject)


def list_persons(
    db: Database[Document], actor: Actor, org_path: str | None, limit: int, offset: int
) -> dict[str, Any]:
    root = _require_staff_over(actor, org_path or actor.org_path or "")
    cursor = (
        db.persons.find({"org_ancestors": root})
        .sort("_id", 1)
        .skip(max(0, offset))
        .limit(max(1, min(limit, 200)))
    )
    return {"items": [person_view(p) for p in cursor], "limit": limit, "offset": offset}


def register_organisation(
    db: Database[Document],
    keys: PiiKeys,
    actor: Actor,
    now: datetime,
    name: str,
    credit_code: str,
    org_path: str,
    legal_representative: str | None = None,
) -> dict[str, Any]:
    org_path = _require_staff_over(actor, org_path)
    require_unit(db, org_path, "org_path")
    name = checked_name(name)
    code = parse_credit_code(credit_code)
    if (
        legal_representative is not None
        and db.persons.find_one({"_id": legal_representative}, {"_id": 1}) is None
    ):
        raise NotFound("no such person", field="legal_representative")
    sub = new_sub("o")
    org: Document = {
        "_id": sub,
        "name": name,
        "credit_code": keys.protect(code, f"organisation:{sub}"),
        "legal_representative": legal_representative,
        "org_path": org_path,
        "org_ancestors": ancestors(org_path),
        "status": "active",
        "frozen_staff": None,
        "created_at": now,
        "created_by": actor.account_id,
    }
    try:
        db.organisations.insert_one(org)
    except DuplicateKeyError as exc:
        raise Conflict("an organisation with this credit code exists", field="credit_code") from exc
    return organisation_view(org)


def add_operator(
    db: Database[Document], actor: Actor, now: datetime, org_id: str, account_id: str, role: str
) -> dict[str, Any]:
    org = get_subject_in_jurisdiction(db, actor, org_id)
    if role not in OPERATOR_ROLES:
        raise InvalidInput(f"one of {', '.join(sorted(OPERATOR_ROLES))}", field="role")
    account = db.accounts.find_one({"_id": account_id})
    if account is None or "enterprise" not in account["roles"]:
        raise NotFound("no such enterprise account", field="account_id")
    link = {
        "_id": f"{org['_id']}:{account_id}",
        "org_id": org["_id"],
        "account_id": account_id,
        "role": role,
        "created_at": now,
        "created_by": actor.account_id,
    }
    db.org_operators.update_one({"_id": link["_id"]}, {"$set": link}, upsert=True)
    return to_wire({k: v for k, v in link.items() if k != "_id"})


def operated_by(db: Database[Document], account_id: str | None, org_id: str) -> bool:
    return (
        account_id is not None
        and db.org_operators.find_one({"_id": f"{org_id}:{account_id}"}, {"_id": 1}) is not None
    )


def my_organisations(db: Database[Document], actor: Actor) -> list[dict[str, Any]]:
    links = list(db.org_operators.find({"account_id": actor.account_id}))
    ids = [link["org_id"] for link in links]
    orgs = {o["_id"]: o for o in db.organisations.find({"_id": {"$in": ids}})}
    return [
        {**organisation_view(orgs[link["org_id"]]), "role": link["role"]}
        for link in links
        if link["org_id"] in orgs
    ]


def set_staff_freeze(
    db: Database[Document], actor: Actor, now: datetime, sub: str, frozen: bool, reason: str | None
) -> dict[str, Any]:
    subject = get_subject_in_jurisdiction(db, actor, sub)
    if frozen and (not isinstance(reason, str) or not reason.strip()):
        raise InvalidInput("a reason is required to freeze", field="reason")
    value = (
        {"reason": reason.strip(), "by": actor.account_id, "at": now} if frozen and reason else None
    )
    collection = db.persons if sub.startswith("p_") else db.organisations
    collection.update_one({"_id": subject["_id"]}, {"$set": {"frozen_staff": value}})
    return view({**subject, "frozen_staff": value})


def set_self_freeze(
    db: Database[Document], actor: Actor, frozen: bool, token_age_s: float
) -> dict[str, Any]:
    if not actor.subject_id or not actor.subject_id.startswith("p_"):
        raise Forbidden("only a person freezes their own code")
    if not frozen and token_age_s > 300:
        raise Forbidden("log in again to unfreeze your code", code="reauthenticate")
    db.persons.update_one({"_id": actor.subject_id}, {"$set": {"frozen_self": frozen}})
    person = db.persons.find_one({"_id": actor.subject_id})
    if person is None:
        raise NotFound("no such person")
    return person_view(person)
