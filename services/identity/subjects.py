"""Subjects: persons and organisations, each known across services by a pseudonymous
``sub`` (``p_…`` / ``o_…``) that carries nothing about them.

Staff register subjects in their jurisdiction. Everything is validated before anything is
written; the one two-document write (a person and their login) is undone if its second half
fails, so an error leaves nothing behind.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from services.common import outbox
from services.common.access import Guard
from services.common.actor import Actor, ancestors
from services.common.codec import to_wire
from services.common.document import Document
from services.common.errors import Conflict, Forbidden, InvalidInput, NotFound, RateLimited
from services.common.text import name as checked_name
from services.identity import access, accounts
from services.identity.idnumbers import age_on, parse_credit_code, parse_resident_id
from services.identity.orgunits import require_unit
from services.identity.pii import PiiKeys
from services.identity.profiles import profile_of_view
from services.identity.store import IdentityStore

_PHONE = re.compile(r"^1[3-9]\d{9}\Z")
CONCESSIONS = frozenset({"none", "elderly", "disabled", "student", "veteran"})
OPERATOR_ROLES = frozenset({"legal_representative", "operator"})


def new_sub(kind: str) -> str:
    return f"{kind}_{secrets.token_hex(8)}"


def _require_staff_over(guard: Guard, org_path: Any, field: str = "org_path") -> str:
    if not isinstance(org_path, str) or not org_path:
        raise InvalidInput("an org unit path", field=field)
    guard.require(access.org_unit(org_path), "no such org unit", field=field)
    return org_path


def concession_for(person: Document, today: date) -> str:
    explicit = person.get("concession") or "none"
    if explicit != "none":
        return str(explicit)
    born = date.fromisoformat(person["birth_date"])
    return "elderly" if age_on(born, today) >= 60 else "none"


def is_frozen(subject: Document) -> bool:
    return bool(subject.get("frozen_self") or subject.get("frozen_staff"))


def frozen_notice(subject: Document) -> dict[str, Any]:
    """What the person is told of a freeze (never a terminal): who froze it, why, and where
    to go to have it undone."""
    staff = subject.get("frozen_staff")
    if staff:
        return {"by": "staff", "reason": staff.get("reason"), "office": staff.get("office")}
    return {"by": "self", "reason": None, "office": None}


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
    store: IdentityStore,
    keys: PiiKeys,
    guard: Guard,
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
    actor = guard.actor
    org_path = _require_staff_over(guard, org_path)
    require_unit(store, org_path, "org_path")
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
    login = _prepare_login(store, actor, now, account, sub, org_path, name)
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
    # The last write of the registration commits its event: the login when there is one
    # (a taken username undoes the person), else the person.
    commit = outbox.Commit("accounts", login["_id"]) if login else outbox.Commit("persons", sub)
    store.stage_events(now, commit, registered(person_view(person)))
    number = person["id_number"]["hash"]
    if not store.insert_person(person):
        existing = store.person_by_number(number)
        raise _already_registered(store, guard, now, existing, number, "id_number")
    if login is not None and not store.insert_account(login):
        store.delete_person(sub)  # undo the first half: nothing half-written
        raise Conflict("this username is taken", field="account.username")
    return person_view(person)


# How often a clerk may meet, in one day, a number registered outside their jurisdiction:
# a counter registers people standing before it, not lists of numbers.
FOREIGN_NUMBER_ATTEMPTS = 20
CHINA_OFFSET = timedelta(hours=8)  # the clerk's day is Beijing's


def _already_registered(
    store: IdentityStore,
    guard: Guard,
    now: datetime,
    existing: Document | None,
    value: str,
    field: str,
) -> Exception:
    """A number already registered. In the clerk's jurisdiction: 409 naming the subject (the
    clerk can see it anyway). Elsewhere: nothing about the subject (no name, no area, no id);
    the attempt is shown to the subject in their activity and counted, so a clerk cannot
    list who lives in the city by typing numbers (past the daily allowance: 429)."""
    if existing is not None and guard.allows(access.subject(existing)):
        return Conflict(
            "this ID number is already registered", field=field, existing=existing["_id"]
        )
    # Counted per number, per clerk and day (China Standard Time): the same number tried
    # again is the same attempt, shown once to the person and counted once.
    local = now + CHINA_OFFSET
    day = local.date().isoformat()
    if not store.claim(f"foreign-number:{guard.actor.account_id}:{day}:{value}", now):
        return _not_registrable(field)
    if existing is not None:
        store.record_disclosure(
            {
                "_id": "dis_" + secrets.token_hex(8),
                "principal": existing["_id"],
                "to": f"unit:{guard.actor.org_path}",
                "fields": [field],
                "purpose": "registration_attempt",
                "detail": {"by": guard.actor.account_id, "unit": guard.actor.org_path},
                "at": now,
            }
        )
    counter = f"foreign-number:{guard.actor.account_id}:{day}"
    if store.take_next(counter, 0, now) >= FOREIGN_NUMBER_ATTEMPTS:
        midnight = datetime.combine(local.date() + timedelta(days=1), time.min, tzinfo=UTC)
        return RateLimited(
            "too many numbers that cannot be registered here today",
            retry_after=int((midnight - local).total_seconds()) + 1,
        )
    return _not_registrable(field)


def _not_registrable(field: str) -> Conflict:
    return Conflict(
        "this number cannot be registered in your jurisdiction; if the person moved here, "
        "the area that registered them moves them",
        field=field,
        code="not_registrable_here",
    )


def _prepare_login(
    store: IdentityStore,
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
    if store.account_by_username(username.lower()) is not None:
        raise Conflict("this username is taken", field="account.username")
    return accounts.build_account(
        username, password, ["citizen"], org_path, name, sub, [], now, actor.account_id
    )


def load(store: IdentityStore, sub: Any) -> Document | None:
    return find_subject(store, sub) if isinstance(sub, str) and sub[:2] in ("p_", "o_") else None


def find_subject(store: IdentityStore, sub: str) -> Document | None:
    return store.load_subject(sub)


def get_subject(store: IdentityStore, guard: Guard, sub: Any, what: str = "subject") -> Document:
    """The subject, if the operation's rule allows it on them; 404 as if absent otherwise."""
    subject = load(store, sub)
    if subject is None:
        raise NotFound(f"no such {what}")
    guard.require(access.subject(subject), f"no such {what}")
    return subject


def subject_brief(store: IdentityStore, sub: Any) -> dict[str, Any]:
    """For another service checking a binding (an issuer's holder, a fact's subject): that
    the subject exists, its kind, name, status and org unit; nothing else about it."""
    subject = load(store, sub)
    if subject is None:
        raise NotFound("no such subject", field="subject")
    kind = "person" if subject["_id"].startswith("p_") else "organisation"
    brief = {
        "id": subject["_id"],
        "kind": kind,
        "name": subject["name"],
        "status": status_of(subject),
        "org_path": subject["org_path"],
    }
    if is_frozen(subject):  # for the service that tells the person (their presentations)
        brief["frozen"] = frozen_notice(subject)
    return brief


def registered(subject: dict[str, Any]) -> outbox.Event:
    """``subject_registered``: what policy needs of a new subject (no personal data)."""
    return outbox.Event(
        "subject_registered", f"subject_registered:{subject['id']}", profile_of_view(subject)
    )


def view(subject: Document) -> dict[str, Any]:
    return person_view(subject) if subject["_id"].startswith("p_") else organisation_view(subject)


def list_persons(
    store: IdentityStore, guard: Guard, org_path: str | None, limit: int, offset: int
) -> dict[str, Any]:
    root = _require_staff_over(guard, org_path or guard.actor.org_path or "")
    found = store.persons_within(root, max(0, offset), max(1, min(limit, 200)))
    return {"items": [person_view(p) for p in found], "limit": limit, "offset": offset}


def register_organisation(
    store: IdentityStore,
    keys: PiiKeys,
    guard: Guard,
    now: datetime,
    name: str,
    credit_code: str,
    org_path: str,
    legal_representative: str | None = None,
) -> dict[str, Any]:
    actor = guard.actor
    org_path = _require_staff_over(guard, org_path)
    require_unit(store, org_path, "org_path")
    name = checked_name(name)
    code = parse_credit_code(credit_code)
    if legal_representative is not None:
        representative = load(store, legal_representative)
        if representative is None or not representative["_id"].startswith("p_"):
            raise NotFound("no such person", field="legal_representative")
        guard.require(
            access.subject(representative), "no such person", field="legal_representative"
        )
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
    if legal_representative is not None:
        # The legal representative acts for the organisation with their own login (sees and
        # decides its payouts, shows its code): a link to their person, written first, so
        # that an organisation never exists without it (a link to one never made grants
        # nothing).
        store.insert_operator(
            {
                "_id": f"{sub}:{legal_representative}",
                "org_id": sub,
                "subject_id": legal_representative,
                "role": "legal_representative",
                "created_at": now,
                "created_by": actor.account_id,
            }
        )
    store.stage_events(now, outbox.Commit("organisations", sub), registered(organisation_view(org)))
    code = org["credit_code"]["hash"]
    if not store.insert_organisation(org):
        existing = store.organisation_by_code(code)
        raise _already_registered(store, guard, now, existing, code, "credit_code")
    return organisation_view(org)


def add_operator(
    store: IdentityStore, guard: Guard, now: datetime, org_id: str, account_id: str, role: str
) -> dict[str, Any]:
    """An enterprise account of the caller's jurisdiction becomes an operator of an
    organisation of it: both ends are checked, as for every binding."""
    org = get_subject(store, guard, org_id, "organisation")
    if not org["_id"].startswith("o_"):
        raise NotFound("no such organisation")
    if role not in OPERATOR_ROLES:
        raise InvalidInput(f"one of {', '.join(sorted(OPERATOR_ROLES))}", field="role")
    account = accounts.load(store, account_id)
    if (
        account is None
        or "enterprise" not in account["roles"]
        or not guard.within_reach(account.get("org_path"))
    ):
        raise NotFound("no such enterprise account", field="account_id")
    link = {
        "_id": f"{org['_id']}:{account_id}",
        "org_id": org["_id"],
        "account_id": account_id,
        "role": role,
        "created_at": now,
        "created_by": guard.actor.account_id,
    }
    store.put_operator(link)
    return to_wire({k: v for k, v in link.items() if k != "_id"})


def operated_by(store: IdentityStore, account_id: str | None, org_id: str) -> bool:
    return account_id is not None and store.operator_link(f"{org_id}:{account_id}") is not None


def _links(store: IdentityStore, account_id: str | None, subject_id: str | None) -> list[Document]:
    """The organisations an account operates, and those whose legal representative is the
    account's person."""
    return store.operator_links(account_id, subject_id)


def operated_ids(
    store: IdentityStore, account_id: str | None, subject_id: str | None = None
) -> list[str]:
    return sorted({link["org_id"] for link in _links(store, account_id, subject_id)})


def my_organisations(store: IdentityStore, guard: Guard) -> list[dict[str, Any]]:
    guard.done()
    links = _links(store, guard.actor.account_id, guard.actor.subject_id)
    ids = [link["org_id"] for link in links]
    orgs = store.organisations_by_ids(ids)
    return [
        {**organisation_view(orgs[link["org_id"]]), "role": link["role"]}
        for link in links
        if link["org_id"] in orgs
    ]


def set_staff_freeze(
    store: IdentityStore, guard: Guard, now: datetime, sub: str, frozen: bool, reason: str | None
) -> dict[str, Any]:
    subject = get_subject(store, guard, sub)
    if frozen and (not isinstance(reason, str) or not reason.strip()):
        raise InvalidInput("a reason is required to freeze", field="reason")
    here = guard.actor.org_path
    unit = (store.load_org_unit(here, {"name": 1}) if here else None) or {}
    value = (
        {
            "reason": reason.strip(),
            "by": guard.actor.account_id,
            "at": now,
            "office": unit.get("name"),  # where the person goes to have it undone
        }
        if frozen and reason
        else None
    )
    store.update_subject(subject["_id"], {"frozen_staff": value})
    return view({**subject, "frozen_staff": value})


def set_self_freeze(
    store: IdentityStore, guard: Guard, frozen: bool, token_age_s: float
) -> dict[str, Any]:
    guard.done()
    actor = guard.actor
    if not actor.subject_id or not actor.subject_id.startswith("p_"):
        raise Forbidden("only a person freezes their own code")
    if not frozen and token_age_s > 300:
        raise Forbidden("log in again to unfreeze your code", code="reauthenticate")
    store.update_subject(actor.subject_id, {"frozen_self": frozen})
    person = store.load_person(actor.subject_id)
    if person is None:
        raise NotFound("no such person")
    return person_view(person)
