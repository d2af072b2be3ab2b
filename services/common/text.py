"""Free text people type (titles, names, reasons, descriptions): trimmed, within a length,
and free of control and invisible characters (line breaks are allowed where several lines
make sense)."""

from __future__ import annotations

from typing import Any

from services.common.errors import InvalidInput


def invisible(value: str, multiline: bool = False) -> bool:
    """True when ``value`` holds control or invisible (zero-width, bidi-mark) characters."""
    allowed = {"\n", "\r", "\t"} if multiline else set()
    return any(
        (ord(c) < 32 and c not in allowed) or 0x7F <= ord(c) < 0xA0 or 0x200B <= ord(c) <= 0x200F
        for c in value
    )


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
