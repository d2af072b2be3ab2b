from __future__ import annotations

from datetime import date

import pytest

from services.common.errors import InvalidInput
from services.identity.idnumbers import age_on, parse_credit_code, parse_resident_id
from tests.idnumbers import credit_code, resident_id


def test_a_valid_number_gives_birth_date_and_sex() -> None:
    parsed = parse_resident_id(resident_id("19580317", sex="male"))
    assert parsed.birth_date == date(1958, 3, 17)
    assert parsed.sex == "male"
    assert parse_resident_id(resident_id("20100229"[:4] + "0228", sex="female")).sex == "female"


def test_the_published_gb11643_example_checks() -> None:
    # The standard's own worked example (a sample number, not a person).
    assert parse_resident_id("11010519491231002X").birth_date == date(1949, 12, 31)


@pytest.mark.parametrize(
    ("mutate", "detail"),
    [
        (lambda n: n[:-1] + ("0" if n[-1] != "0" else "1"), "checksum"),
        (lambda n: n[:10] + "1332" + n[14:], "not a date"),
        (lambda n: n[:-1], "18 characters"),
        (lambda n: n + "1", "18 characters"),
        (lambda n: n[:5] + "A" + n[6:], "digits"),
        (lambda n: "99" + n[2:], "region"),
    ],
)
def test_malformed_numbers_are_refused_naming_the_field(mutate, detail) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput) as caught:
        parse_resident_id(mutate(resident_id()))
    assert caught.value.field == "id_number"
    assert detail in caught.value.detail


def test_a_future_birth_date_is_refused() -> None:
    with pytest.raises(InvalidInput, match="out of range"):
        parse_resident_id(resident_id("20300101"), today=date(2026, 11, 22))


def test_credit_codes_check_alphabet_and_checksum() -> None:
    code = credit_code()
    assert parse_credit_code(code.lower()) == code
    assert parse_credit_code("91350100M000100Y43") == "91350100M000100Y43"  # published sample
    for bad in (code[:-1], code[:-1] + ("0" if code[-1] != "0" else "1"), "I" + code[1:]):
        with pytest.raises(InvalidInput) as caught:
            parse_credit_code(bad)
        assert caught.value.field == "credit_code"


def test_age_counts_birthdays() -> None:
    assert age_on(date(1966, 11, 23), date(2026, 11, 22)) == 59
    assert age_on(date(1966, 11, 22), date(2026, 11, 22)) == 60
