"""Who may do what with the gateway's own data: tokens and sessions, partner clients, the
probes. Same shape as every service's table (:mod:`services.common.access`).

Each HTTP route names the operation(s) it performs in its OpenAPI ``x-operation``
(``identity.create_account``, ``gateway.create_partner_client``): the service that owns the
data decides them; the gateway decides only its own, here. The matrix test and the README's
table join the routes to the rules through that name.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends

from services.common.access import (
    ADMIN,
    EVERY_ROLE,
    NO_LINKS,
    SELF,
    AccessTable,
    Answer,
    Kind,
    Resource,
    Rule,
    admit,
    refuse,
    relate,
)
from services.common.actor import Actor
from services.gateway.deps import CurrentActor

ADMINS = frozenset({"admin"})

RULES = {
    "issue_token": Rule("Log in, or get a partner client's token", anyone=True),
    "logout": Rule("End the session of the token used", roles=EVERY_ROLE),
    "list_sessions": Rule("List one's sessions", roles=EVERY_ROLE - {"partner"}),
    "end_session": Rule(
        "End one of one's sessions",
        roles=EVERY_ROLE - {"partner"},
        relations=(SELF, ADMIN),
        resource="session",
    ),
    "end_all_sessions": Rule("Log out everywhere", roles=EVERY_ROLE - {"partner"}),
    "read_me": Rule("Read who one is", roles=EVERY_ROLE),
    "create_partner_client": Rule("Register a partner client", roles=ADMINS),
    "list_partner_clients": Rule("List partner clients", roles=ADMINS),
    "set_partner_client_status": Rule(
        "Disable or enable a partner client",
        roles=ADMINS,
        relations=(ADMIN,),
        resource="partner_client",
    ),
    "healthz": Rule("Ask whether the gateway process is alive", anyone=True),
    "readyz": Rule("Ask whether the suite is ready", anyone=True),
    "service_health": Rule(
        "Read one service's health", roles=frozenset({"staff", "supervisor", "admin"})
    ),
}

KINDS = {
    "session": Kind("session", visible=(SELF, ADMIN)),
    "partner_client": Kind("partner_client", visible=(ADMIN,)),
}

TABLE = AccessTable("gateway", RULES, KINDS)


def operation(*names: str, **extra: Any) -> dict[str, Any]:
    """A route's OpenAPI ``openapi_extra``: the operations it performs, by their rule's name."""
    return {"x-operation": list(names), **extra}


def require(operation_name: str, actor: Actor | None, resource: Resource | None = None) -> None:
    """Apply a gateway rule (the gateway's own data only)."""
    rule = TABLE.rules[operation_name]
    answer = admit(rule, actor, None)
    if answer is Answer.ALLOW and resource is not None and actor is not None:
        answer = relate(TABLE, rule, actor, None, resource, lambda: NO_LINKS)
    if answer is not Answer.ALLOW:
        refuse(answer, rule, actor)


def allowed(operation_name: str) -> Any:
    """A route dependency: the caller, once the gateway rule admits them."""

    def check(actor: CurrentActor) -> Actor:
        require(operation_name, actor)
        return actor

    return Depends(check)


AdminClients = Annotated[Actor, allowed("create_partner_client")]


def session(document: dict[str, Any]) -> Resource:
    return Resource("session", account=document.get("account"))


def partner_client(_document: dict[str, Any]) -> Resource:
    return Resource("partner_client")
