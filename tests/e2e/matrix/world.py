"""The world the access matrix is tried in: who calls (personas) and what they call on
(targets), every one of them made here through the API, so the relations between them are
known from how they were made, not read back from the suite.

Everyone and everything is the matrix's own (accounts, people, organisations, partners, a
unit of its own under each street), so whatever a persona is allowed to do (freeze its code,
log out, change a rule) touches no other test.

Personas, each with the relation it is there to try:

============  =================================================================
admin         an administrator
sup.district  a supervisor of the district (above both streets)
sup.a         a supervisor of street A
staff.a       street A's staff (the resources' jurisdiction)
staff.b       street B's staff (out of reach)
dept.owner    staff of the department that issues and owns (残联)
dept.other    staff of another department (市场监管)
assessor      a doctor assessing for the owning department
assessor.other a doctor assessing for another department
auditor       an auditor of the district (reads payouts and ledgers, writes nothing)
auditor.b     an auditor of street B (out of reach)
self          a person of street A: the subject of the person's resources
other         a person of street B
proxy.full    acts for *self* with every scope
proxy.code    acts for *self* with ``show_code`` only (the other scopes absent)
proxy.expired a delegation from *self* that has expired
proxy.revoked a delegation from *self* that was revoked
operator.a    operator of organisation A (street A)
operator.b    operator of organisation B (street B)
verifier.hotel a terminal registered for the hotel scene
verifier.metro a terminal registered for metro and bus
partner.tasks the hotline: tasks:read and tasks:write in the district
partner.other another partner with the same scopes and area (not its records)
partner.feed  a fact feed of street A: facts:write and certs:verify
anonymous     no token
============  =================================================================
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from services.common.access import Links, Resource
from services.common.actor import Actor, ancestors
from tests.conftest import ADMIN_PASSWORD, ADMIN_USER
from tests.idnumbers import credit_code, resident_id

CITY = "CN-LN-SY"
DISTRICT = f"{CITY}/HP"
CL, SJ = f"{DISTRICT}/CL", f"{DISTRICT}/SJ"
PASSWORD = "Matrix-pass-2026"
SCOPES = ["apply", "confirm_payouts", "show_certificates", "show_code"]
_births = (f"19{60 + n // 12:02d}{n % 12 + 1:02d}15" for n in itertools.count())


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


@dataclass
class Persona:
    name: str
    actor: Actor | None
    links: Links = field(default_factory=Links)
    username: str | None = None
    client: tuple[str, str] | None = None  # (client_id, secret) of a partner
    password: str = PASSWORD
    id_number: str | None = None
    cached: dict[str, str] | None = None

    def headers(self, http: httpx.Client) -> dict[str, str]:
        if self.actor is None:
            return {}
        if self.cached is None:
            self.cached = self.fresh(http)
        return self.cached

    def fresh(self, http: httpx.Client) -> dict[str, str]:
        """A token of a new session (for what ends a session, so the cached one lives)."""
        if self.client is not None:
            form = {
                "grant_type": "client_credentials",
                "client_id": self.client[0],
                "client_secret": self.client[1],
            }
        else:
            form = {"grant_type": "password", "username": self.username, "password": self.password}
        answer = http.post("/v1/auth/token", data=form)
        assert answer.status_code == 200, f"{self.name}: {answer.text}"
        return {"Authorization": f"Bearer {answer.json()['access_token']}"}


class World:
    """Made once per session; ``make_*`` make a fresh target (for an act that consumes one)."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http
        self.root_admin = self._token(ADMIN_USER, ADMIN_PASSWORD)
        tag = secrets.token_hex(3)
        # Units of the matrix's own, one under each street (the demo's are other tests').
        self.street_a = self._unit(f"{DISTRICT}/NH", f"MA{tag}", "矩阵社区甲", "community")
        self.street_b = self._unit(f"{DISTRICT}/TYJ", f"MB{tag}", "矩阵社区乙", "community")
        self.personas: dict[str, Persona] = {"anonymous": Persona("anonymous", None)}
        self._staff("admin", ["admin"], None)
        self._staff("sup.district", ["supervisor"], DISTRICT)
        self._staff("sup.a", ["supervisor"], self.street_a)
        self._staff("staff.a", ["staff"], self.street_a)
        self._staff("staff.b", ["staff"], self.street_b)
        self._staff("dept.owner", ["staff"], CL)
        self._staff("dept.other", ["staff"], SJ)
        self._account("assessor", ["assessor"], CL, display_name="矩阵医院 评定医生")
        self._account("assessor.other", ["assessor"], SJ, display_name="矩阵医院 别处医生")
        self._staff("auditor", ["auditor"], DISTRICT)
        self._staff("auditor.b", ["auditor"], self.street_b)
        self.self_id = self._citizen("self", self.street_a)
        self.other_id = self._citizen("other", self.street_b)
        for name in ("proxy.full", "proxy.code", "proxy.expired", "proxy.revoked"):
            self._citizen(name, self.street_a)
        self._delegate()
        self.org_a = self._organisation("operator.a", self.street_a, "staff.a")
        self.org_b = self._organisation("operator.b", self.street_b, "staff.b")
        self._verifier("verifier.hotel", ["hotel"])
        self._verifier("verifier.metro", ["metro", "bus"])
        self._partner("partner.tasks", ["tasks:read", "tasks:write"], DISTRICT)
        self._partner("partner.other", ["tasks:read", "tasks:write"], DISTRICT)
        self._partner("partner.feed", ["facts:write", "certs:verify"], self.street_a)
        self.below_a = self._unit(self.street_a, f"MD{tag}", "矩阵科室", "department")
        self.certificate = self.make_certificate()
        # Certificates the matrix amends, suspends or issues again belong to someone else:
        # *self* keeps one valid certificate (a policy pays them for it).
        self.policy = self.make_policy("published")
        self.draft = self.make_policy("draft")
        self._once: dict[str, Any] = {}

    # requests

    def _token(self, username: str, password: str) -> dict[str, str]:
        answer = self.http.post(
            "/v1/auth/token",
            data={"grant_type": "password", "username": username, "password": password},
        )
        assert answer.status_code == 200, answer.text
        return {"Authorization": f"Bearer {answer.json()['access_token']}"}

    def as_(self, persona: str) -> dict[str, str]:
        return self.personas[persona].headers(self.http)

    def call(self, method: str, path: str, persona: str | None = None, **kwargs: Any) -> Any:
        headers = self.as_(persona) if persona else self.root_admin
        answer = self.http.request(method, path, headers=headers, **kwargs)
        assert answer.status_code < 300, f"{method} {path}: {answer.status_code} {answer.text}"
        return answer.json() if answer.content else None

    # the world's people

    def _unit(self, parent: str, code: str, name: str, kind: str) -> str:
        self.call(
            "POST",
            "/v1/org-units",
            json={"code": code, "name": name, "kind": kind, "parent": parent},
        )
        return f"{parent}/{code}"

    def _account(self, name: str, roles: list[str], unit: str | None, **extra: Any) -> Persona:
        username = unique("matrix." + name.replace(".", "-"))
        body = {
            "username": username,
            "password": PASSWORD,
            "roles": roles,
            "org_path": unit,
            **extra,
        }
        account = self.call("POST", "/v1/accounts", json=body)
        actor = Actor(
            account_id=account["id"],
            roles=tuple(roles),
            org_path=unit,
            extra={"scenes": extra.get("scenes", [])},
        )
        persona = Persona(name, actor, username=username)
        self.personas[name] = persona
        return persona

    def _staff(self, name: str, roles: list[str], unit: str | None) -> None:
        self._account(name, roles, unit)

    def person(self, unit: str, registrar: str = "staff.a", login: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": "矩阵居民",
            "id_number": resident_id(next(_births)),
            "org_path": unit,
        }
        if login:
            body["account"] = {"username": unique("matrix.person"), "password": PASSWORD}
        made: dict[str, Any] = self.call("POST", "/v1/persons", registrar, json=body)
        made["username"] = body.get("account", {}).get("username")
        made["id_number"] = body["id_number"]
        return made

    def _citizen(self, name: str, unit: str) -> str:
        registrar = "staff.a" if unit == self.street_a else "staff.b"
        made = self.person(unit, registrar, login=True)
        actor = Actor(
            account_id=made["account_id"],
            roles=("citizen",),
            org_path=unit,
            subject_id=made["id"],
        )
        self.personas[name] = Persona(
            name, actor, username=made["username"], id_number=made["id_number"]
        )
        return str(made["id"])

    def _delegate(self) -> None:
        """Four delegations from *self*: every scope, show_code only, expired, revoked."""
        soon = time.time() + 3
        for name, scopes, until in (
            ("proxy.expired", SCOPES, soon),
            ("proxy.full", SCOPES, time.time() + 86400),
            ("proxy.code", ["show_code"], time.time() + 86400),
            ("proxy.revoked", SCOPES, time.time() + 86400),
        ):
            asked = self.call(
                "POST",
                "/v1/me/proxies",
                "self",
                json={
                    "proxy_id_number": self.personas[name].id_number,
                    "proxy_name": "矩阵居民",
                    "scopes": scopes,
                    "valid_until": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(until)),
                },
            )
            self.call("POST", f"/v1/me/proxies/{asked['id']}/accept", name)
            if name == "proxy.revoked":
                self.call("DELETE", f"/v1/me/proxies/{asked['id']}", "self")
            if name in ("proxy.full", "proxy.code"):
                self.personas[name].links = Links(delegated={self.self_id: frozenset(scopes)})
            self.delegations = getattr(self, "delegations", {})
            self.delegations[name] = asked
        while time.time() <= soon + 1:  # the expired one: wait until it is (bounded: 4 s)
            time.sleep(0.2)

    def _organisation(self, name: str, unit: str, registrar: str) -> str:
        org = self.call(
            "POST",
            "/v1/organisations",
            registrar,
            json={"name": "矩阵企业", "credit_code": credit_code(), "org_path": unit},
        )
        persona = self._account(name, ["enterprise"], unit)
        assert persona.actor is not None
        self.call(
            "POST",
            f"/v1/organisations/{org['id']}/operators",
            registrar,
            json={"account_id": persona.actor.account_id, "role": "operator"},
        )
        persona.links = Links(operated=frozenset({org["id"]}))
        return str(org["id"])

    def _verifier(self, name: str, scenes: list[str]) -> None:
        self._account(name, ["verifier"], self.street_a, scenes=scenes)

    def _partner(self, name: str, scopes: list[str], area: str) -> None:
        client_id = unique(name.replace(".", "-"))
        made = self.call(
            "POST",
            "/v1/partner-clients",
            json={"client_id": client_id, "name": name, "scopes": scopes, "org_path": area},
        )
        actor = Actor(
            account_id=f"client:{client_id}",
            roles=("partner",),
            org_path=area,
            client_id=client_id,
            scopes=tuple(scopes),
        )
        self.personas[name] = Persona(name, actor, client=(client_id, made["client_secret"]))

    # targets, made fresh on demand

    def make_spare_certificate(self) -> dict[str, Any]:
        """A certificate of a fresh person of street A (a person holds one of the type)."""
        return self.make_certificate(str(self.make_person()["id"]))

    def make_certificate(self, holder: str | None = None) -> dict[str, Any]:
        issued: dict[str, Any] = self.call(
            "POST",
            "/v1/certificates",
            "dept.owner",
            json={
                "issuer": "iss_hpcl",
                "type": "disability_certificate",
                "subject": holder or self.self_id,
                "fields": {"category": "肢体", "grade": "三级"},
                "request_id": unique("matrix"),
            },
        )
        return issued

    def make_policy(self, status: str, mode: str = "push") -> dict[str, Any]:
        body = {
            "code": unique("matrix"),
            "title": "矩阵政策",
            "department": "区残联",
            "category": "助残",
            "subject_type": "person",
            "mode": mode,
            # Only the matrix's own people match (other tests' inboxes stay theirs).
            "conditions": {
                "all": [
                    {
                        "fact": "cert_disability_certificate",
                        "op": "==",
                        "value": "valid",
                        "label": "持有残疾人证",
                    },
                    {"fact": "org_unit", "op": "==", "value": self.street_a, "label": "矩阵社区"},
                ]
            },
            **({"amount": {"fixed": 10000}} if mode in ("confirm", "auto") else {}),
        }
        policy: dict[str, Any] = self.call("POST", "/v1/policies", "dept.owner", json=body)
        if status == "published":
            self.call("POST", f"/v1/policies/{policy['id']}/publish", "dept.owner")
        return policy

    def make_application(self, state: str) -> dict[str, Any]:
        """An application of a new person of street A (one may have only one open), brought
        to ``state`` by street A's staff and the issuing department's doctor."""
        applicant = self.person(self.street_a, login=True)
        token = {
            "Authorization": "Bearer "
            + self.http.post(
                "/v1/auth/token",
                data={
                    "grant_type": "password",
                    "username": applicant["username"],
                    "password": PASSWORD,
                },
            ).json()["access_token"]
        }
        made = self.http.post("/v1/applications", headers=token, json={"note": "矩阵"})
        assert made.status_code == 201, made.text
        application: dict[str, Any] = made.json()
        if state in ("reviewed", "assessed"):
            application = self.call(
                "POST",
                f"/v1/applications/{application['id']}/review",
                "staff.a",
                json={"approve": True},
            )
        if state == "assessed":
            application = self.call(
                "POST",
                f"/v1/applications/{application['id']}/assessment",
                "assessor",
                json={"issuer": "iss_hpcl", "category": "视力", "grade": "三级"},
            )
        return application

    def known_to_policy(self, subject: str, fact: str | None = None) -> None:
        """Wait (bounded) until policy has learnt the subject (and ``fact``) from the events."""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            answer = self.http.get(f"/v1/subjects/{subject}/facts", headers=self.as_("staff.a"))
            if answer.status_code == 200 and (fact is None or fact in answer.json()):
                return
            time.sleep(0.2)
        raise AssertionError(f"policy never learnt {subject} {fact or ''}")

    def paying_policy(self) -> dict[str, Any]:
        """A published policy that pays on confirmation, matched after *self*'s certificate
        reached policy (so *self* is offered a payout)."""
        if "paying" not in self._once:
            self.known_to_policy(self.self_id, "cert_disability_certificate")
            self._once["paying"] = self.make_policy("published", mode="confirm")
        found: dict[str, Any] = self._once["paying"]
        return found

    def offered_payout(self) -> str:
        if "payout" not in self._once:
            paying = self.paying_policy()
            self.call(
                "POST",
                f"/v1/policies/{paying['id']}/payout-runs",
                "dept.owner",
                json={"period": "once"},
            )
            mine = self.call("GET", "/v1/me/payouts", "self")
            self._once["payout"] = next(
                x["id"]
                for x in mine
                if x.get("policy") == paying["id"] and x["status"] == "offered"
            )
        payout: str = self._once["payout"]
        return payout

    def source(self) -> str:
        if "source" not in self._once:
            code = "matrix_" + secrets.token_hex(3)
            self.call("POST", "/v1/task-sources", json={"code": code, "name": "矩阵来源"})
            self._once["source"] = code
        code_: str = self._once["source"]
        return code_

    def make_person(self, unit: str | None = None) -> dict[str, Any]:
        unit = unit or self.street_a
        return self.person(unit, "staff.a" if unit == self.street_a else "staff.b")

    def make_account(self, unit: str | None = None) -> dict[str, Any]:
        made: dict[str, Any] = self.call(
            "POST",
            "/v1/accounts",
            json={
                "username": unique("matrix.spare"),
                "password": PASSWORD,
                "roles": ["enterprise"],
                "org_path": unit or self.street_a,
            },
        )
        return made

    def make_task(
        self, *, receiver: str | None = None, state: str = "dispatched", by: str = "sup.district"
    ) -> dict[str, Any]:
        """A task dispatched by the district (or the hotline) to street A's unit, brought to
        ``state`` by its receiver."""
        body: dict[str, Any] = {
            "title": "矩阵任务",
            "category": "matrix",
            "external_id": unique("matrix"),
            "attachments": [
                {"name": "说明.txt", "content_type": "text/plain", "content": "6ZmE5Lu2"}
            ],
        }
        if state != "created":
            body["units"] = [receiver or self.street_a]
        task: dict[str, Any] = self.call("POST", "/v1/tasks", by, json=body)
        steps = {
            "accepted": ["accept"],
            "in_progress": ["accept", "start"],
            "feedback_submitted": ["accept", "start", "feedback"],
        }
        for step in steps.get(state, []):
            json = {"text": "已处理"} if step == "feedback" else None
            task = self.call("POST", f"/v1/tasks/{task['id']}/{step}", "sup.a", json=json)
        return task

    def task_resource(self, task: dict[str, Any], creator: str | None = None) -> Resource:
        dispatcher = task["dispatcher"]
        receiver = task.get("receiver")
        reach = sorted({*ancestors(dispatcher), *(ancestors(receiver) if receiver else [])})
        return Resource(
            "task",
            units=tuple(reach),
            partners=(creator,) if creator else (),
            extra={"dispatcher": dispatcher, "receiver": receiver, "creator": creator},
        )

    def client_of(self, persona: str) -> str:
        actor = self.personas[persona].actor
        assert actor is not None
        assert actor.client_id is not None
        return actor.client_id


def iterate(personas: dict[str, Persona]) -> Iterator[Persona]:
    yield from personas.values()


Build = Callable[[World], Any]
