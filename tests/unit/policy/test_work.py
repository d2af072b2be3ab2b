"""PolicyWork builds each worker's Work from what the service declares: the store over the
MongoDatabase's own database, the guard CallContext bound to the call (looked up when a verb
asks), identity asked only when a verb needs it."""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace
from typing import Any

import pytest

from services.common.access import Guard, acting_as
from services.common.actor import Actor
from services.common.codec import CITY_TIME
from services.common.context import CallContext
from services.common.errors import NotFound
from services.common.mongo import MongoDatabase
from services.policy import access
from services.policy.store import PolicyStore
from services.policy.work import PolicyWork

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=CITY_TIME)


class Calls(CallContext):
    """A CallContext whose guards are given (no signed headers to open)."""

    def __init__(self, guards: dict[Any, Guard]) -> None:
        super().__init__(access.TABLE)
        self.guards = guards

    def guard_of(self, worker_ctx: Any) -> Guard | None:
        return self.guards.get(worker_ctx)


class Identity:
    def __init__(self) -> None:
        self.asked: list[str] = []

    def subject_brief(self, subject_id: str) -> dict[str, Any]:
        self.asked.append(subject_id)
        if subject_id != "p_li":
            raise NotFound("no such subject")
        return {"kind": "person", "org_path": "C/HP"}

    def subject_profiles(self, after: str, limit: int) -> list[dict[str, Any]]:
        self.asked.append(f"after {after}")
        return [{"subject": "p_li"}][:limit]


class Worker:
    """A worker's context: its service instance (with its identity proxy)."""

    def __init__(self, identity: Identity) -> None:
        self.service = SimpleNamespace(identity=identity)


def provider(guards: dict[Any, Guard]) -> PolicyWork:
    stores = MongoDatabase("policy", store=PolicyStore)
    stores.database = SimpleNamespace(name="policy_test")  # type: ignore[assignment]
    work = PolicyWork(disburse=lambda _payout: ("paid", "pay_1"), clock=lambda: NOW)
    container = SimpleNamespace(service_name="policy", dependencies=[stores, Calls(guards), work])
    work.container = container
    work.setup()
    return work


def test_a_call_gets_the_store_over_the_service_database_and_the_call_guard() -> None:
    guard = acting_as(access.TABLE, "my_payouts", Actor(account_id="acc_1"))
    identity = Identity()
    call = Worker(identity)
    work = provider({call: guard}).get_dependency(call)
    assert isinstance(work.store, PolicyStore)
    assert work.store.database.name == "policy_test"
    assert work.guard is guard
    assert (work.now, work.clock()) == (NOW, NOW)
    assert work.disburse({"_id": "x"}) == ("paid", "pay_1")
    assert identity.asked == []  # nothing asked while the worker was set up
    assert work.lookup("p_li") == {"kind": "person", "org_path": "C/HP"}
    assert work.lookup("p_nobody") is None
    assert work.profiles_after("", 10) == [{"subject": "p_li"}]
    assert identity.asked == ["p_li", "p_nobody", "after "]


def test_a_timer_or_an_event_has_no_guard() -> None:
    timer = Worker(Identity())
    work = provider({}).get_dependency(timer)
    with pytest.raises(LookupError):
        _ = work.guard
