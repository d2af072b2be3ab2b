"""Who may do what on whose data: the shape every service's access table takes.

Each service has one table (``services/<service>/access.py``): for every RPC it declares, a
:class:`Rule` names the roles that may call it, the *relations* the caller must have to the
resource it acts on (any one of them suffices), the delegation scope a proxy needs, the scope
a partner client needs, and which other services may call it. Each resource kind has a
*visibility*: the relations under which the resource exists for the caller at all.

The table is applied in two places, both in the service that owns the data:

* the RPC entrypoint (:mod:`services.common.entrypoints`) refuses, before any work, a call
  whose context is not signed, an operation the table does not name, and a caller without
  the rule's roles or client scope;
* the domain code asks the call's :class:`Guard` about the resource it loaded
  (``guard.require(access.certificate(doc))``). Outside the resource kind's visibility the
  answer is :class:`NotFound`, exactly as if it did not exist; visible but not allowed is
  :class:`Forbidden`. An operation whose rule names a resource kind and that answers without
  asking its guard is a bug, reported as one (``AccessNotChecked``) instead of answered.

:func:`admit` and :func:`relate` are the one decision; the matrix test runs the same two
functions as its oracle against the running suite, and the README's table is printed from
the same rules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, TypeVar

from services.common.actor import ROLES, Actor, within
from services.common.errors import Forbidden, NotFound, Unauthenticated

T = TypeVar("T")
STAFF = frozenset({"staff", "supervisor", "admin"})
PEOPLE = frozenset({"citizen", "enterprise"})
EVERY_ROLE = ROLES


class Answer(Enum):
    """What a decision comes to, as the caller sees it."""

    ALLOW = 200
    UNAUTHENTICATED = 401
    FORBIDDEN = 403
    NOT_FOUND = 404


@dataclass(frozen=True)
class Links:
    """What the caller holds through others, as identity knows it now: the organisations the
    account operates, and for each person who delegated to the caller (a proxy or a
    guardianship in force) the scopes delegated."""

    operated: frozenset[str] = frozenset()
    delegated: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def principals(self, scope: str) -> list[str]:
        return sorted(p for p, scopes in self.delegated.items() if scope in scopes)

    def to_wire(self) -> dict[str, Any]:
        return {
            "operated": sorted(self.operated),
            "delegated": {p: sorted(s) for p, s in self.delegated.items()},
        }

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Links:
        return cls(
            operated=frozenset(data.get("operated") or ()),
            delegated={p: frozenset(s) for p, s in (data.get("delegated") or {}).items()},
        )


NO_LINKS = Links()


@dataclass(frozen=True)
class Resource:
    """A resource as the access model sees it: whom it is about, where it lies, who owns it.

    ``subject`` is the person or organisation it concerns (``p_…`` / ``o_…``); ``parties``
    the persons acting in it (the proxy or guardian of a delegation); ``units`` the org
    units it lies in (a task lies with its dispatcher and every unit it was sent to);
    ``owners`` the owning departments (a certificate's issuer, a policy's or a rule's owner);
    ``partners`` the partner clients whose record it is; ``account`` the account it belongs to;
    ``scene`` the verifier scene; ``public`` that anyone signed in may see it; ``extra``
    what a service-specific relation reads."""

    kind: str
    subject: str | None = None
    parties: tuple[str, ...] = ()
    units: tuple[str, ...] = ()
    owners: tuple[str, ...] = ()
    partners: tuple[str, ...] = ()
    account: str | None = None
    scene: str | None = None
    public: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Ask:
    """One question put to a relation."""

    actor: Actor
    caller: str | None
    resource: Resource
    scope: str | None
    links: Callable[[], Links]


@dataclass(frozen=True)
class Relation:
    """A named relation between the caller and a resource."""

    name: str
    holds: Callable[[Ask], bool]
    doc: str
    needs_links: bool = False

    def __repr__(self) -> str:
        return self.name


def _is_staff(actor: Actor) -> bool:
    return actor.is_staff and actor.client_id is None


def _self(ask: Ask) -> bool:
    me = ask.actor.subject_id
    if me is not None and me == ask.resource.subject:
        return True
    return ask.actor.account_id is not None and ask.actor.account_id == ask.resource.account


def _agent(ask: Ask) -> bool:
    return ask.actor.subject_id is not None and ask.actor.subject_id in ask.resource.parties


def _proxy(ask: Ask) -> bool:
    subject = ask.resource.subject
    if subject is None or ask.scope is None or not ask.actor.subject_id:
        return False
    return ask.scope in ask.links().delegated.get(subject, frozenset())


def _operator(ask: Ask) -> bool:
    subject = ask.resource.subject
    return subject is not None and subject in ask.links().operated


def _below_own_unit(ask: Ask, qualifies: bool, places: Iterable[str]) -> bool:
    """A qualifying caller whose own unit holds one of ``places`` (or lies above it)."""
    root = ask.actor.org_path
    return qualifies and root is not None and any(within(place, root) for place in places)


def _signed_in_as(actor: Actor, role: str) -> bool:
    """An account of the role, never a partner's client."""
    return actor.has_role(role) and actor.client_id is None


def _jurisdiction(ask: Ask) -> bool:
    return _below_own_unit(ask, _is_staff(ask.actor), ask.resource.units)


def _department(ask: Ask) -> bool:
    return _below_own_unit(ask, _is_staff(ask.actor), ask.resource.owners)


def _assessor(ask: Ask) -> bool:
    """A doctor's account bound to the owning department (the 残联 whose assessments it
    signs)."""
    return _below_own_unit(ask, _signed_in_as(ask.actor, "assessor"), ask.resource.owners)


def _auditor(ask: Ask) -> bool:
    """An auditor's account (审计) reads what lies in its unit's subtree or is owned there;
    it changes nothing (no rule that writes names the role)."""
    places = (*ask.resource.units, *ask.resource.owners)
    return _below_own_unit(ask, _signed_in_as(ask.actor, "auditor"), places)


def _lineage(ask: Ask) -> bool:
    """The caller's own unit or one above it: everyone may read the names of those."""
    own = ask.actor.org_path
    return own is not None and any(within(own, unit) for unit in ask.resource.units)


def _scene(ask: Ask) -> bool:
    scenes = ask.actor.extra.get("scenes") or ()
    return ask.actor.has_role("verifier") and ask.resource.scene in scenes


def _partner(ask: Ask) -> bool:
    client = ask.actor.client_id
    return client is not None and client in ask.resource.partners


def _partner_area(ask: Ask) -> bool:
    area = ask.actor.org_path
    if ask.actor.client_id is None or area is None:
        return False
    return bool(ask.resource.units) and all(within(u, area) for u in ask.resource.units)


SELF = Relation("self", _self, "the person or organisation it is about, or the account's owner")
AGENT = Relation("agent", _agent, "the proxy or guardian named in it")
PROXY = Relation(
    "proxy",
    _proxy,
    "acting for that person with a delegation (proxy or guardian) of the named scope, in force",
    needs_links=True,
)
OPERATOR = Relation(
    "operator",
    _operator,
    "operator or legal representative of that organisation",
    needs_links=True,
)
JURISDICTION = Relation(
    "jurisdiction", _jurisdiction, "staff of a unit it lies in, or of a unit above it"
)
DEPARTMENT = Relation(
    "department", _department, "staff of the owning department, or of a unit above it"
)
ASSESSOR = Relation(
    "assessor", _assessor, "an assessing doctor's account bound to the owning department"
)
AUDITOR = Relation(
    "auditor", _auditor, "an auditor of a unit the record lies in or is owned in, or above it"
)
LINEAGE = Relation("lineage", _lineage, "the caller's own unit or a unit above it")
SCENE = Relation("scene", _scene, "a verifier registered for the scene")
PARTNER = Relation("partner", _partner, "the partner client whose record it is")
PARTNER_AREA = Relation(
    "partner_area", _partner_area, "a partner client whose area contains it (feeds, intake)"
)
ADMIN = Relation("admin", lambda ask: ask.actor.is_admin and ask.actor.client_id is None, "admin")
SIGNED_IN = Relation(
    "signed_in", lambda ask: ask.resource.public, "anyone signed in (a public record)"
)
HOLDER = (SELF, PROXY, OPERATOR)


@dataclass(frozen=True)
class Rule:
    """Who may perform one operation.

    ``roles``: who may call it at all (empty with ``anyone``: no login needed).
    ``relations``: to the resource, any one suffices (empty: the caller's own business, or
    nothing beyond the role). ``resource``: the kind of resource it acts on, whose
    visibility decides 404 against 403. ``scope``: the delegation scope a proxy needs.
    ``client_scope``: the scope a partner client needs. ``services``: other services that
    may call it (bus only). ``anyone``: callable without a login (the gateway's public
    routes)."""

    summary: str
    roles: frozenset[str] = frozenset()
    relations: tuple[Relation, ...] = ()
    resource: str | None = None
    scope: str | None = None
    client_scope: str | None = None
    services: frozenset[str] = frozenset()
    anyone: bool = False

    def __post_init__(self) -> None:
        if self.relations and self.resource is None:
            raise ValueError(f"{self.summary}: relations need a resource kind")
        if PROXY in self.relations and self.scope is None:
            raise ValueError(f"{self.summary}: a proxy relation needs a delegation scope")


@dataclass(frozen=True)
class Kind:
    """A resource kind and the relations under which it is visible."""

    name: str
    visible: tuple[Relation, ...]
    scope: str | None = None


@dataclass(frozen=True)
class AccessTable:
    """One service's rules, by operation (the RPC method's name), and its resource kinds."""

    service: str
    rules: Mapping[str, Rule]
    kinds: Mapping[str, Kind]

    def __post_init__(self) -> None:
        for operation, rule in self.rules.items():
            if rule.resource is not None and rule.resource not in self.kinds:
                raise ValueError(f"{self.service}.{operation}: unknown kind {rule.resource}")

    def rule(self, operation: str) -> Rule | None:
        return self.rules.get(operation)


def admit(rule: Rule, actor: Actor | None, caller: str | None) -> Answer:
    """The entrypoint's decision: may this caller perform the operation at all?"""
    if rule.anyone:
        return Answer.ALLOW
    if caller is not None and caller in rule.services:
        return Answer.ALLOW
    if actor is None or not actor.roles:
        return Answer.UNAUTHENTICATED if actor is None else Answer.FORBIDDEN
    if not rule.roles & set(actor.roles):
        return Answer.FORBIDDEN
    if actor.client_id is not None and rule.client_scope not in (None, *actor.scopes):
        return Answer.FORBIDDEN
    if actor.on_behalf_of and rule.scope is None:
        # Asked for someone else where nobody acts for anyone: refused, never done as the
        # caller themself (a proxy freezing their own code instead of the principal's).
        return Answer.FORBIDDEN
    return Answer.ALLOW


def holds(
    relations: Iterable[Relation],
    actor: Actor,
    caller: str | None,
    resource: Resource,
    scope: str | None,
    links: Callable[[], Links],
) -> bool:
    """True when one of ``relations`` holds; the cheap ones are asked first."""
    ordered = sorted(relations, key=lambda r: r.needs_links)
    ask = Ask(actor=actor, caller=caller, resource=resource, scope=scope, links=links)
    return any(relation.holds(ask) for relation in ordered)


def relate(
    table: AccessTable,
    rule: Rule,
    actor: Actor,
    caller: str | None,
    resource: Resource,
    links: Callable[[], Links],
) -> Answer:
    """The domain's decision about one resource: allowed, visible but not allowed (403), or
    not there for this caller (404)."""
    kind = table.kinds.get(resource.kind) or COMMON_KINDS[resource.kind]
    if rule.services and caller in rule.services:
        return Answer.ALLOW
    if not holds(kind.visible, actor, caller, resource, kind.scope or rule.scope, links):
        return Answer.NOT_FOUND
    if not rule.relations or holds(rule.relations, actor, caller, resource, rule.scope, links):
        return Answer.ALLOW
    return Answer.FORBIDDEN


class AccessNotChecked(Exception):
    """An operation whose rule names a resource answered without asking its guard."""


@dataclass
class Guard:
    """The access table bound to one call: its operation's rule, the caller, and the links
    (fetched from identity at most once, and only when a relation needs them)."""

    table: AccessTable
    operation: str
    rule: Rule
    actor: Actor
    caller: str | None
    fetch_links: Callable[[Actor], Links]
    checked: bool = False
    _links: Links | None = None

    def links(self) -> Links:
        if self._links is None:
            person_or_operator = self.actor.client_id is None and self.actor.account_id
            self._links = self.fetch_links(self.actor) if person_or_operator else NO_LINKS
        return self._links

    def answer(self, resource: Resource) -> Answer:
        return relate(self.table, self.rule, self.actor, self.caller, resource, self.links)

    def require(
        self,
        resource: Resource,
        missing: str | None = None,
        field: str | None = None,
        *,
        refused: str | None = None,
        code: str = "not_allowed",
    ) -> None:
        """Refuse unless the operation's rule allows it on ``resource``: 404 (``missing`` says
        what, as when it does not exist) outside its visibility, 403 (``refused``, ``code``)
        when visible."""
        self.checked = True
        answer = self.answer(resource)
        where = {"field": field} if field is not None else {}
        if answer is Answer.NOT_FOUND:
            raise NotFound(missing or f"no such {resource.kind.replace('_', ' ')}", **where)
        if answer is Answer.FORBIDDEN:
            raise Forbidden(refused or f"you may not {self.rule.summary.lower()}", code=code)

    def see(self, resource: Resource, missing: str | None = None, field: str | None = None) -> None:
        """Refuse (404) unless ``resource`` is visible to the caller; what they may do with it
        is decided per item (``allows``)."""
        self.checked = True
        kind = self.table.kinds[resource.kind]
        if not holds(kind.visible, self.actor, self.caller, resource, kind.scope, self.links):
            where = {"field": field} if field is not None else {}
            raise NotFound(missing or f"no such {resource.kind.replace('_', ' ')}", **where)

    def filter(self, items: Iterable[T], describe: Callable[[T], Resource]) -> list[T]:
        """The items of a listing the operation is allowed on (``describe`` says what each is)."""
        self.checked = True
        return [item for item in items if self.answer(describe(item)) is Answer.ALLOW]

    def holds(self, relation: Relation, resource: Resource) -> bool:
        """Does one named relation hold (a state machine whose allowed states differ by the
        side acting)?"""
        return holds((relation,), self.actor, self.caller, resource, self.rule.scope, self.links)

    def allows(self, resource: Resource) -> bool:
        """For filtering a list: is the operation allowed on this one?"""
        self.checked = True
        return self.answer(resource) is Answer.ALLOW

    def mine(self) -> list[str]:
        """The subjects the caller acts for in this operation: themself, and as the rule's
        relations allow, the organisations they operate and whoever delegated the rule's
        scope to them; only the one named in ``X-On-Behalf-Of`` when one is (refused unless
        that delegation is in force)."""
        self.checked = True
        if self.actor.on_behalf_of:  # the caller named one: that one, if they may
            return [self.acting_for()[0]]
        me = self.actor.subject_id
        subjects = [me] if me else []
        if OPERATOR in self.rule.relations:
            subjects += sorted(self.links().operated)
        if me and self.rule.scope and PROXY in self.rule.relations:
            subjects += self.links().principals(self.rule.scope)
        return list(dict.fromkeys(subjects))

    def acting_for(self) -> tuple[str, str | None]:
        """Whom the caller acts for (``X-On-Behalf-Of``, else themself) and the proxy acting
        (None for oneself). Refused (403: the caller named the person) unless the rule's
        relations hold: oneself, or a delegation of the rule's scope in force."""
        actor = self.actor
        target = actor.on_behalf_of or actor.subject_id
        if target is None:
            raise Forbidden("this account does not represent a person or an organisation")
        self.require(
            principal(target),
            refused=f"you are not authorized to {self.rule.scope or 'act'} for this subject",
            code="not_delegated",
        )
        proxy = actor.subject_id if target != actor.subject_id else None
        return target, proxy

    def within_reach(self, path: str | None) -> bool:
        """For queries by place: does the caller's jurisdiction cover ``path``?"""
        self.checked = True
        if self.actor.is_admin and self.actor.client_id is None:
            return True
        root = self.actor.org_path
        return (
            path is not None and root is not None and _is_staff(self.actor) and within(path, root)
        )

    def reach(self) -> str | None:
        """The root of the caller's jurisdiction for a listing ('' for an administrator: all)."""
        self.checked = True
        if self.actor.is_admin and self.actor.client_id is None and not self.actor.org_path:
            return ""
        return self.actor.org_path if _is_staff(self.actor) else None

    def done(self) -> None:
        """The operation decided by the rule alone (a listing of the caller's own records)."""
        self.checked = True


PRINCIPAL_KIND = Kind("principal", visible=(SIGNED_IN,))
# Kinds every service's guard knows without listing them (a person named in X-On-Behalf-Of).
COMMON_KINDS = {"principal": PRINCIPAL_KIND}


def principal(subject: str) -> Resource:
    """The person a caller names to act for: no secret (the caller named them), so what is
    refused is the act (403), not their existence."""
    return Resource("principal", subject=subject, public=True)


def acting_as(table: AccessTable, operation: str, actor: Actor) -> Guard:
    """A guard for what a service does by itself (an event's consequence, a timer), acting as
    ``actor`` (a system identity with the roles and unit the act needs): the same rule is
    applied to it as to a user."""
    rule = table.rules[operation]
    return Guard(table, operation, rule, actor, None, lambda _actor: NO_LINKS)


def refuse(answer: Answer, rule: Rule, actor: Actor | None = None) -> None:
    if answer is Answer.UNAUTHENTICATED:
        raise Unauthenticated("an access token is required")
    if answer is Answer.FORBIDDEN and actor is not None and actor.on_behalf_of and not rule.scope:
        raise Forbidden("this is not done for someone else", code="not_delegated")
    if answer is Answer.FORBIDDEN:
        roles = ", ".join(sorted(rule.roles)) or "none"
        raise Forbidden(f"requires one of the roles: {roles}", code="role")
    if answer is Answer.NOT_FOUND:
        raise NotFound("not found")
