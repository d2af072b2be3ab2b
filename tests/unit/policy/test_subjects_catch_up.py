"""Policy catches up on the subjects identity registered before its queue existed, page by
page, and then stops asking: identity's listing scans every subject on FerretDB."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.policy import subjects
from tests.unit.policy.memory_store import MemoryPolicyStore

NOW = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


class Listing:
    """identity's subject listing over ``count`` persons, counting what it is asked."""

    def __init__(self, count: int) -> None:
        self.subjects = [f"p_{n:04d}" for n in range(count)]
        self.asked: list[str] = []

    def __call__(self, after: str, limit: int) -> list[dict[str, Any]]:
        self.asked.append(after)
        later = [s for s in self.subjects if s > after][:limit]
        return [{"subject": s, "kind": "person", "org_path": "C/HP"} for s in later]


def test_the_listing_is_read_to_its_end_once() -> None:
    store, listing = MemoryPolicyStore(), Listing(subjects.PAGE + 3)
    for _tick in range(5):
        subjects.catch_up(store, NOW, listing)
    # a full page, then the short one that ends it; no more questions after that
    assert listing.asked == ["", f"p_{subjects.PAGE - 1:04d}"]
    assert store.subjects_caught_up()
    assert store.subjects_cursor() == f"p_{subjects.PAGE + 2:04d}"
    learnt = store.load_facts(f"p_{subjects.PAGE + 2:04d}")
    assert learnt is not None


def test_an_empty_listing_is_caught_up_at_once() -> None:
    store, listing = MemoryPolicyStore(), Listing(0)
    subjects.catch_up(store, NOW, listing)
    subjects.catch_up(store, NOW, listing)
    assert listing.asked == [""]
    assert (store.subjects_cursor(), store.subjects_caught_up()) == ("", True)
