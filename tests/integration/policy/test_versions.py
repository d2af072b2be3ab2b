"""Which version's rules pay a period, on the real database: the one in force then."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.policy import policies


def version(n: int, status: str, published: datetime | None) -> dict[str, Any]:
    return {
        "_id": f"pol_v{n}",
        "code": "elder-care",
        "version": n,
        "status": status,
        "org_path": "C/HP/MZ",
        "published_at": published,
    }


def test_a_period_is_paid_by_the_version_in_force_in_it(scratch_db: Any) -> None:
    first = version(1, "retired", datetime(2025, 1, 10, tzinfo=UTC))
    second = version(2, "published", datetime(2026, 3, 1, tzinfo=UTC))
    other_unit = {**version(3, "published", datetime(2025, 6, 1, tzinfo=UTC)), "org_path": "X"}
    scratch_db.policies.insert_many([first, second, other_unit])
    current = scratch_db.policies.find_one({"_id": "pol_v2"})

    def used(at: datetime) -> str:
        return str(policies.version_at(scratch_db, current, at)["_id"])

    assert used(datetime(2025, 12, 31, 15, 59, tzinfo=UTC)) == "pol_v1"  # 2025: the first
    assert used(datetime(2026, 11, 30, tzinfo=UTC)) == "pol_v2"
    assert used(datetime(2024, 12, 31, tzinfo=UTC)) == "pol_v2"  # before any: paid back by today's
