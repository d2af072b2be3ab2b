"""After the whole end-to-end run: no clear ID-card number, credit code or mobile number
anywhere in the databases or the logs of the suite under test. Marked ``last``: it reads what
every earlier test left behind.

It looks for every number the tests used and, beyond those, for any 18-character string that
passes the GB 11643 / GB 32100 checksums and any word that is a mainland mobile number. The
SMS partner's own log is not ours: a text is sent to a number.
"""

from __future__ import annotations

import re
from typing import Any

import pymongo
import pytest
from bson import json_util

from services.common.errors import InvalidInput
from services.identity.idnumbers import parse_credit_code, parse_resident_id
from tests.conftest import MONGO_URL, ROOT, Suite
from tests.e2e.conftest import demo_city
from tests.idnumbers import ISSUED

# Whole 18-character words as the numbers are written (upper case; an ID may end in x).
CANDIDATE = re.compile(r"(?<![0-9A-Za-z])[0-9A-Z]{17}[0-9A-Zx](?![0-9A-Za-z])")
MOBILE = re.compile(r"(?<![0-9A-Za-z])1[3-9][0-9]{9}(?![0-9A-Za-z])")
# Mobile numbers the end-to-end tests register (tests/e2e/test_identity.py, test_policy.py).
PHONES = {"13900001111", "13800000077"}


def database_dump(prefix: str) -> str:
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(MONGO_URL)
    try:
        parts = []
        for name in client.list_database_names():
            if not name.startswith(prefix):
                continue
            for collection in client[name].list_collection_names():
                for document in client[name][collection].find():
                    parts.append(json_util.dumps(document, ensure_ascii=False))
        return "\n".join(parts)
    finally:
        client.close()


def checksummed_numbers(text: str) -> set[str]:
    found = set()
    for candidate in CANDIDATE.findall(text):
        for parse in (parse_resident_id, parse_credit_code):
            try:
                parse(candidate)
            except InvalidInput:
                continue
            found.add(candidate)
    return found


@pytest.mark.last
def test_no_clear_id_number_in_the_database_or_the_logs(
    running_suite: Suite, demo: dict[str, Any]
) -> None:
    dump = database_dump("e2e_")
    ours = [p for p in (ROOT / "var/log/e2e").glob("*.log") if not p.stem.endswith("-partner")]
    logs = "\n".join(p.read_text(errors="replace") for p in ours)
    assert '"id_number"' in dump  # people were registered: their numbers are in there, sealed
    assert len(dump) > 1_000
    assert len(logs) > 1_000
    used = set(ISSUED) | {p["id_number"] for p in demo_city.PERSONS}
    used |= {o["credit_code"] for o in demo_city.ORGANISATIONS}
    assert len(used) >= 4
    assert '"phone"' in dump  # people gave their phones: sealed, and shown masked
    assert MOBILE.findall(dump) == []
    assert MOBILE.findall(logs) == []
    used |= PHONES | {p["phone"] for p in demo_city.PERSONS if p.get("phone")}
    for number in used:
        assert number not in dump, f"{number[:4]}… in the database"
        assert number not in logs, f"{number[:4]}… in the logs"
    assert checksummed_numbers(dump) == set()
    assert checksummed_numbers(logs) == set()


def test_the_check_would_find_a_leak() -> None:
    leak = f'{{"note": "holder {next(iter(demo_city.PERSONS))["id_number"]} called"}}'
    assert checksummed_numbers(leak) == {demo_city.PERSONS[0]["id_number"]}
    assert MOBILE.findall('{"to": "13900001111", "masked": "139****1111"}') == ["13900001111"]
