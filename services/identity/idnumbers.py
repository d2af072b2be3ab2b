"""Validation of resident ID numbers (GB 11643-1999) and unified social credit codes
(GB 32100-2015): length, alphabet, embedded date, checksum. Pure functions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from services.common.errors import InvalidInput

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
# Province-level prefixes in use (the first two digits of the administrative division code).
_PROVINCES = frozenset(
    [
        "11",
        "12",
        "13",
        "14",
        "15",
        "21",
        "22",
        "23",
        "31",
        "32",
        "33",
        "34",
        "35",
        "36",
        "37",
        "41",
        "42",
        "43",
        "44",
        "45",
        "46",
        "50",
        "51",
        "52",
        "53",
        "54",
        "61",
        "62",
        "63",
        "64",
        "65",
        "71",
        "81",
        "82",
        "83",
    ]
)

_CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # 31 characters: no I, O, S, V, Z
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


@dataclass(frozen=True)
class ResidentId:
    number: str
    birth_date: date
    sex: str  # "male" | "female"


def id_check_character(first17: str) -> str:
    return _ID_CHECK[sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def parse_resident_id(
    value: object, field: str = "id_number", today: date | None = None
) -> ResidentId:
    if not isinstance(value, str):
        raise InvalidInput("an 18-character resident ID number is required", field=field)
    number = value.strip().upper()
    if len(number) != 18:
        raise InvalidInput("must be 18 characters", field=field)
    if not number[:17].isdigit() or not (number[17].isdigit() or number[17] == "X"):
        raise InvalidInput("must be 17 digits and a digit or X", field=field)
    if number[:2] not in _PROVINCES:
        raise InvalidInput("unknown region code", field=field)
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError as exc:
        raise InvalidInput("the birth date in the number is not a date", field=field) from exc
    if born.year < 1900 or born > (today or date.today()):
        raise InvalidInput("the birth date in the number is out of range", field=field)
    if id_check_character(number[:17]) != number[17]:
        raise InvalidInput("checksum does not match", field=field)
    return ResidentId(number, born, "male" if int(number[16]) % 2 else "female")


def credit_check_character(first17: str) -> str:
    total = sum(
        _CREDIT_ALPHABET.index(c) * w for c, w in zip(first17, _CREDIT_WEIGHTS, strict=True)
    )
    return _CREDIT_ALPHABET[(31 - total % 31) % 31]


def parse_credit_code(value: object, field: str = "credit_code") -> str:
    if not isinstance(value, str):
        raise InvalidInput("an 18-character unified social credit code is required", field=field)
    code = value.strip().upper()
    if len(code) != 18:
        raise InvalidInput("must be 18 characters", field=field)
    if any(c not in _CREDIT_ALPHABET for c in code):
        raise InvalidInput("contains a character outside the code's alphabet", field=field)
    if not code[2:8].isdigit():
        raise InvalidInput("the administrative division code must be digits", field=field)
    if credit_check_character(code[:17]) != code[17]:
        raise InvalidInput("checksum does not match", field=field)
    return code


def age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))
