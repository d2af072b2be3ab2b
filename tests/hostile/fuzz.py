"""Schemathesis over every operation of the gateway's OpenAPI, as one role: a bounded number
of generated requests per operation (schema-valid ones and, fewer, schema-breaking ones),
each checked as a caller would notice it: never a 5xx, every 4xx a problem+json body that
says its status. Path parameters are drawn half the time from identifiers that exist, so an
operation is exercised past its 404.

Plain functions; the test (test_schema.py) chooses the roles and reads the tally.
"""

from __future__ import annotations

import json
import os
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.transport import Response
from schemathesis.schemas import APIOperation

EXAMPLES = int(os.environ.get("SCHEMA_EXAMPLES", "50"))
NEGATIVE_EXAMPLES = int(os.environ.get("SCHEMA_NEGATIVE_EXAMPLES", "10"))
SEED = int(os.environ.get("SCHEMA_SEED", str(random.randrange(2**32))))


@schemathesis.serializer("application/x-ndjson")
def _ndjson(ctx: Any, value: Any) -> dict[str, Any]:
    """The bulk-facts body is lines of text; whatever was generated goes as one line."""
    if isinstance(value, bytes):
        return {"data": value}
    text = value if isinstance(value, str) else json.dumps(value)
    return {"data": text.encode("utf-8")}


@dataclass
class Caller:
    """One role's headers, and how to sign in again: the generator logs out, ends sessions
    and disables accounts like any caller may, and the role must go on being fuzzed as
    itself rather than as nobody."""

    headers: dict[str, str]
    sign_in: Callable[[], dict[str, str]] | None = None  # None: anonymous, nothing to end
    renewed: int = 0

    def renew(self) -> None:
        assert self.sign_in is not None, "anonymous has no session to renew"
        self.headers = self.sign_in()
        self.renewed += 1


@dataclass
class Tally:
    """What one role's run sent and what came back."""

    role: str
    cases: Counter[str] = field(default_factory=Counter)  # operation → requests sent
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    # operation → 401s to schema-valid requests (a schema-breaking one may break the
    # Authorization header itself, and a 401 is then its right answer)
    unauthenticated: Counter[str] = field(default_factory=Counter)

    def record(self, label: str, case: Any, response: Response, valid: bool) -> None:
        self.cases[label] += 1
        self.statuses[response.status_code] += 1
        if response.status_code == 401 and valid:
            self.unauthenticated[label] += 1
        problem = what_is_wrong(response)
        if problem and sum(f.startswith(label + ":") for f in self.failures) < 2:
            sent = case.as_curl_command()
            self.failures.append(f"{label}: {problem}\n    {sent[:600]}")


def what_is_wrong(response: Response) -> str | None:
    """None when a caller would find the answer sound, else what is wrong with it."""
    status = response.status_code
    if status >= 500:
        return f"{status} {response.text[:300]}"
    if status < 400:
        return None
    kind = next(iter(response.headers.get("content-type", [])), "")
    if not kind.startswith("application/problem+json"):
        return f"{status} as {kind or 'no content type'}, not problem+json: {response.text[:200]}"
    try:
        body = response.json()
    except ValueError:
        return f"{status} problem+json that is not JSON: {response.text[:200]}"
    if not isinstance(body, dict) or body.get("status") != status or not body.get("title"):
        return f"{status} problem without its status and title: {response.text[:200]}"
    return None


def strategies(operation: APIOperation, known: dict[str, list[str]]) -> tuple[Any, Any]:
    """Schema-valid and schema-breaking cases; half the valid ones take their path parameters
    from identifiers that exist (the others are generated as the schema allows)."""
    names = [p.name for p in operation.path_parameters if known.get(p.name)]
    positive = operation.as_strategy(GenerationMode.POSITIVE)
    negative = operation.as_strategy(GenerationMode.NEGATIVE)
    if not names:
        return positive, negative
    pinned = st.fixed_dictionaries({n: st.sampled_from(known[n]) for n in names}).flatmap(
        lambda values: operation.as_strategy(GenerationMode.POSITIVE, path_parameters=values)
    )
    return st.one_of(positive, pinned), negative


def fuzz(
    schema: Any,
    base_url: str,
    roles: dict[str, Caller],
    known: dict[str, list[str]],
) -> dict[str, Tally]:
    """Every operation of ``schema``: EXAMPLES schema-valid and NEGATIVE_EXAMPLES
    schema-breaking requests (fewer when the inputs allow fewer), each sent as every role of
    ``roles``. Generating is the slow part, so a case is drawn once."""
    tallies = {role: Tally(role) for role in roles}
    session = requests.Session()
    for result in schema.get_all_operations():
        operation = result.ok()
        label = f"{operation.method.upper()} {operation.path}"
        valid, invalid = strategies(operation, known)
        for strategy, count in ((valid, EXAMPLES), (invalid, NEGATIVE_EXAMPLES)):
            try:
                cases = draw(strategy, count)
            except Unsatisfiable:
                if strategy is valid:
                    for tally in tallies.values():
                        tally.failures.append(f"{label}: no schema-valid request can be made")
                continue
            for role, caller in roles.items():
                for case in cases:
                    sent = Sent(case, label, strategy is valid)
                    send(sent, tallies[role], session, base_url, caller)
    return tallies


def draw(strategy: Any, count: int) -> list[Any]:
    """Up to ``count`` distinct cases from ``strategy`` (Hypothesis decides which)."""
    cases: list[Any] = []

    @seed(SEED)
    @settings(
        max_examples=count,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def collect(case: Any) -> None:
        cases.append(case)

    collect()
    return cases


@dataclass(frozen=True)
class Sent:
    case: Any
    label: str
    valid: bool  # schema-valid, as opposed to schema-breaking


def send(
    sent: Sent, tally: Tally, session: requests.Session, base_url: str, caller: Caller
) -> None:
    """One case as ``caller``; a 401 to a caller who was signed in means an earlier case
    ended its session (a logout, a disabled account): it signs in again and the case is
    sent once more, and only that second answer counts."""
    response = call(sent.case, session, base_url, caller.headers)
    if response is not None and response.status_code == 401 and ended(session, base_url, caller):
        caller.renew()
        response = call(sent.case, session, base_url, caller.headers)
    if response is None:
        tally.cases[sent.label] += 1
        tally.failures.append(f"{sent.label}: no answer")
        return
    tally.record(sent.label, sent.case, response, sent.valid)


def ended(session: requests.Session, base_url: str, caller: Caller) -> bool:
    """Whether the caller was signed in and its token no longer works (a 401 to a wrong
    password or a bad signature is that case's own answer)."""
    if caller.sign_in is None:
        return False
    probe = session.get(f"{base_url}/v1/me", headers=caller.headers, timeout=30)
    return probe.status_code == 401


def call(
    case: Any, session: requests.Session, base_url: str, headers: dict[str, str]
) -> Response | None:
    try:
        answer: Response = case.call(
            base_url=base_url, session=session, headers=headers, timeout=30
        )
    except requests.RequestException:
        return None
    return answer
