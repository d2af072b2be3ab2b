"""Schemathesis against the gateway's OpenAPI, every operation, as each role: no 5xx, every
4xx a problem+json body stating its status (acceptance 2 of the production issue).

``SCHEMA_EXAMPLES`` (50) schema-valid and ``SCHEMA_NEGATIVE_EXAMPLES`` (10) schema-breaking
requests per operation and role; ``SCHEMA_SEED`` repeats a run (the seed is printed)."""

from __future__ import annotations

from typing import Any

import httpx
import schemathesis

from tests.conftest import Suite
from tests.hostile.conftest import ROLES, caller
from tests.hostile.fuzz import EXAMPLES, NEGATIVE_EXAMPLES, SEED, fuzz

# Operations that answer 401 to a credential in the request itself (a client secret or a
# password; the payment provider's signature), whoever is signed in.
OWN_CREDENTIAL = {"POST /v1/auth/token", "POST /v1/payment-callbacks"}


def test_no_operation_answers_5xx_or_a_4xx_without_a_problem(
    hostile_suite: Suite, city: dict[str, Any], known: dict[str, list[str]]
) -> None:
    schema = schemathesis.openapi.from_url(f"{hostile_suite.base_url}/openapi.json")
    with httpx.Client(base_url=hostile_suite.base_url, timeout=30) as http:
        roles = {role: caller(http, role, city) for role in ROLES}
        tallies = fuzz(schema, hostile_suite.base_url, roles, known)
    print(f"\n{EXAMPLES} valid + {NEGATIVE_EXAMPLES} invalid asked per operation, seed {SEED}")
    for role, tally in tallies.items():
        fewest = min(tally.cases.values())
        print(
            f"{role}: {sum(tally.cases.values())} requests over {len(tally.cases)} operations "
            f"(fewest {fewest}, where the inputs allow no more); signed in again "
            f"{roles[role].renewed} times; answers {dict(sorted(tally.statuses.items()))}"
        )
        if tally.unauthenticated and role != "anonymous":
            print(f"    401 to {role} from {dict(tally.unauthenticated)}")
    # A signed-in role is fuzzed as itself to the end: its 401s are the answers of the
    # operations that check a credential of their own, not of a session an earlier case ended.
    for role, tally in tallies.items():
        if role != "anonymous":
            assert set(tally.unauthenticated) <= OWN_CREDENTIAL, (role, tally.unauthenticated)
    failures = [f for tally in tallies.values() for f in tally.failures]
    assert min(len(t.cases) for t in tallies.values()) >= 100, "the schema lost its operations"
    assert failures == [], f"seed {SEED}:\n" + "\n".join(failures)
