"""A verb's :class:`~services.policy.work.Work` in the tests: a store, a guard, a moment, a
payment partner, and an identity that knows no subject (there is no identity service to
ask)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.common.access import Guard
from services.policy.store import PolicyStore
from services.policy.work import Clock, Disburse, Lookup, Work


def nobody(_subject: str) -> dict[str, Any] | None:
    """identity's brief of a subject it does not know."""
    return None


def no_profiles(_after: str, _limit: int) -> list[dict[str, Any]]:
    """identity's listing when no subject is registered."""
    return []


def refuses(payout: Any) -> tuple[str, str]:
    """A payment partner that is not there."""
    return "failed", "no payment partner in this test"


def work(
    store: PolicyStore,
    guard: Guard,
    now: datetime,
    disburse: Disburse = refuses,
    *,
    clock: Clock | None = None,
    lookup: Lookup = nobody,
) -> Work:
    """Without ``clock``, time stands at ``now`` (a payout run's lease is renewed at it)."""
    return Work.of(
        store,
        guard,
        now,
        lookup=lookup,
        profiles_after=no_profiles,
        disburse=disburse,
        clock=clock,
    )
