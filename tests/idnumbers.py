"""Test data: well-formed but invented ID numbers and credit codes (checksums computed)."""

from __future__ import annotations

import itertools

from services.identity.idnumbers import credit_check_character, id_check_character

_serial = itertools.count(100)
ISSUED: list[str] = []  # every number handed out, for the personal-data check at the end


def resident_id(birth: str = "19580317", region: str = "210102", sex: str = "female") -> str:
    """A valid 18-character number: region, birth date, a fresh serial, the check character."""
    while True:
        serial = next(_serial) % 1000
        if (serial % 2 == 1) == (sex == "male"):
            break
    first17 = f"{region}{birth}{serial:03d}"
    number = first17 + id_check_character(first17)
    ISSUED.append(number)
    return number


def credit_code(body: str | None = None) -> str:
    body = body or f"91210102MA{next(_serial) % 10**7:07d}"
    code = body + credit_check_character(body)
    ISSUED.append(code)
    return code
