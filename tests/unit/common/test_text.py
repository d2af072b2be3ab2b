"""Names and free text: one spelling, no hidden characters, no look-alike alphabets mixed."""

from __future__ import annotations

import pytest

from services.common.errors import InvalidInput
from services.common.text import name, text


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("  王芳 ", "王芳"),
        ("ＷＡＮＧ Ｆａｎｇ", "WANG Fang"),  # full-width letters typed on a Chinese keyboard
        ("\uf9e8芳", "\u88e1芳"),  # the compatibility ideograph of 裡 is the unified 裡
        ("阿卜杜拉·艾力", "阿卜杜拉·艾力"),
        ("Иван Петров", "Иван Петров"),
        ("\U000323af明", "\U000323af明"),  # a CJK Extension H character (生僻字)
        ("\ue000明", "\ue000明"),  # a private-use character a city assigned for a rare name
    ],
)
def test_names_are_kept_in_one_spelling(typed: str, stored: str) -> None:
    assert name(typed) == stored


@pytest.mark.parametrize(
    "typed",
    [
        "Wаng Fang",  # Cyrillic а among Latin letters
        "Αnna",  # Greek capital alpha
        "王\u202e芳",  # right-to-left override
        "王\u200d芳",  # zero-width joiner
        "王\u2028芳",  # line separator
        "王\u0085芳",  # next line (C1 control)
        "王\ufeff芳",  # byte-order mark
        "",
        "  ",
        "王" * 101,
        None,
        ["王芳"],
    ],
)
def test_names_that_would_hide_or_pass_for_another_are_refused(typed: object) -> None:
    with pytest.raises(InvalidInput) as refused:
        name(typed, field="account.name")
    assert refused.value.field == "account.name"


def test_free_text_keeps_line_breaks_only_where_asked() -> None:
    assert text("第一行\n第二行", "description", 100, multiline=True) == "第一行\n第二行"
    with pytest.raises(InvalidInput):
        text("第一行\n第二行", "title", 100)
    with pytest.raises(InvalidInput):
        text("说明\u202e", "description", 100, multiline=True)
