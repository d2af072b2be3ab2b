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
class Tally:
    """What one role's run sent and what came back."""

    role: str
    cases: Counter[str] = field(default_factory=Counter)  # operation → requests sent
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    def record(self, label: str, case: Any, response: Response) -> None:
        self.cases[label] += 1
        self.statuses[response.status_code] += 1
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
    roles: dict[str, dict[str, str]],
    known: dict[str, list[str]],
) -> dict[str, Tally]:
    """Every operation of ``schema``: EXAMPLES schema-valid and NEGATIVE_EXAMPLES
    schema-breaking requests (fewer when the inputs allow fewer), each sent as every role of
    ``roles`` (role → its headers). Generating is the slow part, so a case is drawn once."""
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
            for role, headers in roles.items():
                for case in cases:
                    send(case, label, tallies[role], session, base_url, headers)
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


def send(
    case: Any,
    label: str,
    tally: Tally,
    session: requests.Session,
    base_url: str,
    headers: dict[str, str],
) -> None:
    try:
        response = case.call(base_url=base_url, session=session, headers=headers, timeout=30)
    except requests.RequestException as exc:
        tally.cases[label] += 1
        tally.failures.append(f"{label}: no answer ({exc.__class__.__name__})")
        return
    tally.record(label, case, response)
