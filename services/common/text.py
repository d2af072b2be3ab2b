"""Free text people type (titles, names, reasons, descriptions): trimmed, within a length,
and free of control and invisible characters (line breaks are allowed where several lines
make sense). Names of people and organisations are also brought to one spelling (NFKC: a
full-width ``Ａ`` is ``A``, a compatibility ideograph is its unified one) and may not mix
look-alike alphabets, so two records that read the same on a counter's screen are the same
text in the database."""

from __future__ import annotations

import unicodedata
from typing import Any

from services.common.errors import InvalidInput

# Alphabets whose letters pass for one another (Latin a, Cyrillic а, Greek α).
_LOOKALIKE_SCRIPTS = ("LATIN", "CYRILLIC", "GREEK")


def invisible(value: str, multiline: bool = False) -> bool:
    """True when ``value`` holds control, format (zero-width, bidi override), surrogate or
    line-separator characters. Private-use and (to this Python) unassigned code points are
    allowed: rare characters in Chinese names (生僻字) live there, in the newest CJK
    extensions or in a government's own private-use assignments."""
    allowed = {"\n", "\r", "\t"} if multiline else set()
    hidden = ("Cc", "Cf", "Cs", "Zl", "Zp")
    return any(c not in allowed and unicodedata.category(c) in hidden for c in value)


def mixed_scripts(value: str) -> bool:
    """True when ``value`` mixes Latin, Cyrillic and Greek letters (``Wаng`` with a Cyrillic
    а): one name is written in one of them (next to Chinese, which mixes with any)."""
    scripts = {
        unicodedata.name(c, "").split(" ", 1)[0]
        for c in value
        if c.isalpha() and unicodedata.name(c, "").startswith(_LOOKALIKE_SCRIPTS)
    }
    return len(scripts) > 1


def text(
    value: Any, field: str, limit: int, required: bool = True, multiline: bool = False
) -> str | None:
    """The trimmed text, None when it is optional and absent; 422 naming ``field`` else."""
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > limit:
        raise InvalidInput(f"1–{limit} characters", field=field)
    cleaned = value.strip()
    if invisible(cleaned, multiline):
        raise InvalidInput("must not contain control or invisible characters", field=field)
    return cleaned


def name(value: Any, field: str = "name", limit: int = 100) -> str:
    """A person's or an organisation's name in its one spelling; 422 naming ``field`` else."""
    if not isinstance(value, str) or invisible(value):
        raise InvalidInput("a name without control or invisible characters", field=field)
    cleaned = unicodedata.normalize("NFKC", value).strip()
    if not cleaned or len(cleaned) > limit:
        raise InvalidInput(f"a name of 1–{limit} characters is required", field=field)
    if mixed_scripts(cleaned):
        raise InvalidInput("must not mix Latin, Cyrillic or Greek letters", field=field)
    return cleaned
