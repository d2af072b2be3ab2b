"""The verifier page reads the one QR code of a photo or screenshot, and says so when it
cannot: no image, no code, or two codes of different texts side by side."""

from __future__ import annotations

import io

import pytest
import qrcode
from PIL import Image

from services.gateway import qr


def picture(*texts: str) -> bytes:
    """A white sheet with one QR code per text, side by side, as a PNG."""
    codes = [qrcode.make(text, box_size=6, border=4).get_image().convert("L") for text in texts]
    sheet = Image.new("L", (sum(code.width for code in codes) + 40, 600), 255)
    left = 20
    for code in codes:
        sheet.paste(code, (left, 20))
        left += code.width
    out = io.BytesIO()
    sheet.save(out, "PNG")
    return out.getvalue()


def test_the_one_code_of_a_picture_is_read() -> None:
    assert qr.read(picture("OCC1.header.payload.signature")) == "OCC1.header.payload.signature"


def test_the_same_code_twice_is_read_as_one() -> None:
    assert qr.read(picture("same-code", "same-code")) == "same-code"


def test_two_different_codes_are_refused_rather_than_one_picked() -> None:
    with pytest.raises(qr.SeveralCodes):
        qr.read(picture("first-person", "second-person"))


@pytest.mark.parametrize(
    ("data", "why"),
    [(b"not an image at all", "not an image"), (picture(), "no QR code")],
)
def test_an_image_without_a_code_is_unreadable(data: bytes, why: str) -> None:
    with pytest.raises(qr.Unreadable, match=why):
        qr.read(data)
