"""Which version's rules pay a period, on the real database: the one in force then."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.common.actor import Actor
from services.policy import access, policies
from services.policy.store import PolicyStore
from tests.bus import as_actor
from tests.unit.policy.working import work


def version(n: int, status: str, published: datetime | None) -> dict[str, Any]:
    return {
        "_id": f"pol_v{n}",
        "code": "elder-care",
        "version": n,
        "status": status,
        "org_path": "C/HP/MZ",
        "subject_type": "person",
        "reads": [],
        "published_at": published,
    }


def test_a_period_is_paid_by_the_version_in_force_in_it(scratch_db: Any) -> None:
    first = version(1, "retired", datetime(2025, 1, 10, tzinfo=UTC))
    second = version(2, "published", datetime(2026, 3, 1, tzinfo=UTC))
    other_unit = {**version(3, "published", datetime(2025, 6, 1, tzinfo=UTC)), "org_path": "X"}
    scratch_db.policies.insert_many([first, second, other_unit])
    current = scratch_db.policies.find_one({"_id": "pol_v2"})

    def used(at: datetime) -> str:
        return str(policies.version_at(PolicyStore(scratch_db), current, at)["_id"])

    assert used(datetime(2025, 12, 31, 15, 59, tzinfo=UTC)) == "pol_v1"  # 2025: the first
    assert used(datetime(2026, 11, 30, tzinfo=UTC)) == "pol_v2"
    assert used(datetime(2024, 12, 31, tzinfo=UTC)) == "pol_v2"  # before any: paid back by today's


def test_a_version_published_ahead_of_its_effective_date_does_not_govern_yet(
    scratch_db: Any,
) -> None:
    first = {**version(1, "retired", datetime(2026, 1, 5, tzinfo=UTC)), "effective_from": None}
    ahead = {
        **version(2, "published", datetime(2026, 12, 20, tzinfo=UTC)),
        "effective_from": "2027-01-01",
    }
    scratch_db.policies.insert_many([first, ahead])
    current = scratch_db.policies.find_one({"_id": "pol_v2"})
    december = datetime(2026, 12, 31, 15, 0, tzinfo=UTC)  # 23:00 in Beijing
    assert policies.version_at(PolicyStore(scratch_db), current, december)["_id"] == "pol_v1"
    assert policies.version_at(PolicyStore(scratch_db), current, datetime(2027, 2, 1, tzinfo=UTC))[
        "_id"
    ] == ("pol_v2")


def test_resuming_a_version_keeps_the_day_it_was_published(scratch_db: Any) -> None:
    published = datetime(2026, 3, 1, tzinfo=UTC)
    scratch_db.policies.insert_one({**version(2, "published", published), "rev": 0})
    admin = Actor(account_id="acc_admin", roles=("admin",), org_path=None)
    for action, at in (("suspend", 5), ("resume", 8)):
        guard = as_actor(access.TABLE, "change_policy_status", admin)
        moment = datetime(2026, 4, at, tzinfo=UTC)
        policies.change_status(work(PolicyStore(scratch_db), guard, moment), "pol_v2", action)
    stored = scratch_db.policies.find_one({"_id": "pol_v2"})
    assert stored["status"] == "published"
    assert stored["published_at"].replace(tzinfo=UTC) == published
    assert stored["resumed_at"].replace(tzinfo=UTC) == datetime(2026, 4, 8, tzinfo=UTC)
