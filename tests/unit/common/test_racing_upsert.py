"""An upsert raced by another replica (both inserted, one lost on the unique key) runs again
and updates in place; one that keeps failing is not hidden."""

from __future__ import annotations

import pytest
from pymongo.errors import DuplicateKeyError

from services.common.mongo import racing_upsert


def test_the_loser_of_an_upsert_race_writes_again() -> None:
    calls: list[int] = []

    def write() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise DuplicateKeyError("E11000 duplicate key")
        return "updated"

    assert racing_upsert(write) == "updated"
    assert len(calls) == 2


def test_a_duplicate_that_persists_is_raised() -> None:
    def write() -> None:
        raise DuplicateKeyError("E11000 duplicate key")

    with pytest.raises(DuplicateKeyError):
        racing_upsert(write, attempts=2)
