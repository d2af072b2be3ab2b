from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from bson import ObjectId

from services.common.codec import fen, format_time, parse_time, to_wire
from services.common.errors import InvalidInput


def test_times_are_iso_utc_strings() -> None:
    moment = datetime(2026, 11, 22, 16, 30, 5, 123456, tzinfo=timezone(timedelta(hours=8)))
    assert format_time(moment) == "2026-11-22T08:30:05.123Z"
    assert parse_time("2026-11-22T08:30:05.123Z") == moment.replace(microsecond=123000)


def test_a_time_without_offset_is_refused_naming_the_field() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_time("2026-11-22T08:30:05", field="due_at")
    assert caught.value.field == "due_at"


def test_documents_become_plain_json() -> None:
    oid = ObjectId()
    document = {"_id": oid, "at": datetime(2026, 1, 1, tzinfo=UTC), "raw": b"\x01", "n": [1, oid]}
    assert to_wire(document) == {
        "_id": str(oid),
        "at": "2026-01-01T00:00:00.000Z",
        "raw": "AQ",
        "n": [1, str(oid)],
    }


@pytest.mark.parametrize("bad", [1.5, -1, "100", True])
def test_money_is_a_non_negative_integer_of_fen(bad: object) -> None:
    with pytest.raises(InvalidInput):
        fen(bad, field="amount")
    assert fen(12_345) == 12_345


def test_domain_errors_come_back_from_the_wire_with_their_extras() -> None:
    from nameko.exceptions import deserialize, serialize

    from services.common import remote  # noqa: F401 - registers the domain errors
    from services.common.errors import NotFound, RateLimited

    wire = serialize(NotFound("no such subject", field="subject"))
    rebuilt = deserialize(wire)
    assert isinstance(rebuilt, NotFound)
    assert rebuilt.extra == {"field": "subject"}
    assert rebuilt.detail == "no such subject"
    limited = deserialize(serialize(RateLimited("slow down", retry_after=30)))
    assert isinstance(limited, RateLimited)
    assert limited.retry_after == 30
