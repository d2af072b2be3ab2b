"""The access matrix: every operation of the OpenAPI × every persona of the world
(tests/e2e/matrix), answered by the running suite exactly as the access model says.

The model's answer is computed by the model's own two functions (``admit``, ``relate``) from
the rules of the tables and the resources *as the world knows them* (who made what, where);
the suite's answer is what it sends back. Refused: the same status (401, 403 or 404).
Allowed: anything but a refusal or a 5xx (a 409 or 422 is the act's own answer). For a
listing, whether the world's resource is in it is the model's answer too.

An operation in the OpenAPI without a case here, or naming an operation no table has, fails
(``test_every_operation_has_a_case_and_a_rule``; tests/unit/test_access_model.py shows the
check catching a planted one)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from services.common.access import Answer, admit, relate
from tests.access_model import TABLES, openapi_operations, rule_of
from tests.e2e.matrix.cases import CASES, Call, Case
from tests.e2e.matrix.world import Persona, World

OPERATIONS = openapi_operations()
REFUSALS = {401, 403, 404}


@pytest.fixture(scope="module")
def world(http: httpx.Client, demo: dict[str, Any]) -> Iterator[World]:
    return World(http)


def model_answer(call: Call, persona: Persona) -> Answer:
    actor = persona.actor
    for operation, resource in call.checks:
        service, _, _name = operation.partition(".")
        table, rule = TABLES[service], rule_of(operation)
        caller = None if service == "gateway" else "gateway"
        answer = admit(rule, actor, caller)
        if answer is not Answer.ALLOW:
            return answer
        if resource is not None and actor is not None:
            answer = relate(table, rule, actor, caller, resource, lambda: persona.links)
            if answer is not Answer.ALLOW:
                return answer
    return Answer.ALLOW


def listed_by_model(call: Call, persona: Persona) -> bool:
    assert call.listed is not None
    assert persona.actor is not None
    operation, resource, _found = call.listed
    service = operation.partition(".")[0]
    answer = relate(
        TABLES[service],
        rule_of(operation),
        persona.actor,
        None if service == "gateway" else "gateway",
        resource,
        lambda: persona.links,
    )
    return answer is Answer.ALLOW


def send(world: World, route: str, call: Call, persona: Persona) -> httpx.Response:
    method, template = route.split(" ", 1)
    path = template
    for name, value in call.path.items():
        path = path.replace("{" + name + "}", value)
    headers = persona.fresh(world.http) if call.fresh_token and persona.actor else {}
    headers = headers or persona.headers(world.http)
    return world.http.request(
        method,
        path,
        headers={**headers, **call.headers},
        params=call.query,
        json=call.json,
        data=call.data,
        content=call.content,
    )


def test_every_operation_has_a_case_and_a_rule(http: httpx.Client) -> None:
    served = {f"{m} {p}" for m, p, _ops in openapi_operations(http.get("/openapi.json").json())}
    assert served == {f"{m} {p}" for m, p, _ops in OPERATIONS}, "the suite serves another API"
    missing = [f"{m} {p}" for m, p, _ops in OPERATIONS if f"{m} {p}" not in CASES]
    assert missing == [], f"operations without a case in the matrix: {missing}"
    stale = sorted(set(CASES) - {f"{m} {p}" for m, p, _ops in OPERATIONS})
    assert stale == [], f"cases of operations the API no longer has: {stale}"
    for method, path, ops in OPERATIONS:
        assert ops, f"{method} {path} names no operation (x-operation)"
        for operation in ops:
            rule_of(operation)  # raises for an operation no table has


@pytest.mark.parametrize(("method", "path"), [(m, p) for m, p, _ in OPERATIONS])
def test_the_suite_answers_as_the_model_says(world: World, method: str, path: str) -> None:
    route = f"{method} {path}"
    case: Case = CASES[route]
    shared: Any = None
    made_shared = False
    wrong: list[str] = []
    for persona in world.personas.values():
        # Whether a persona is allowed does not depend on which target of its kind it acts
        # on: decide with the shared one, then give an allowed persona its own if the act
        # consumes it.
        if case.target is not None and not made_shared:
            shared, made_shared = case.target(world), True
        call = case.make(world, persona, shared)
        if case.fresh and case.target is not None and model_answer(call, persona) is Answer.ALLOW:
            call = case.make(world, persona, case.target(world))
        expected = model_answer(call, persona)
        answer = send(world, route, call, persona)
        status = answer.status_code
        if expected is Answer.ALLOW:
            wanted = case.allowed_answer
            ok = status == wanted if wanted else status not in REFUSALS and status < 500
            if ok and call.listed is not None and status < 300:
                shown = call.listed[2](answer.json())
                if shown != listed_by_model(call, persona):
                    wrong.append(f"{persona.name}: listed {shown}, the model says {not shown}")
            elif not ok:
                wrong.append(f"{persona.name}: {status} {answer.text[:160]} (the model allows)")
        elif status != expected.value:
            wrong.append(f"{persona.name}: {status} {answer.text[:160]} (model: {expected.value})")
    assert wrong == [], f"{route}:\n" + "\n".join(wrong)
