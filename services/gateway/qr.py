"""QR rendering for codes and printed cards (presentation only: the token is made by identity)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import qrcode
import qrcode.image.svg
from PIL import Image, ImageDraw, ImageFont
from qrcode.constants import ERROR_CORRECT_M

CJK_FONTS = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
)


def _qr(text: str, box_size: int = 8) -> qrcode.QRCode:
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=box_size, border=4)
    code.add_data(text)
    code.make(fit=True)
    return code


def qr_version(text: str) -> int:
    version: int = _qr(text).version
    return version


def png(text: str, box_size: int = 8) -> bytes:
    buffer = io.BytesIO()
    _qr(text, box_size).make_image(fill_color="black", back_color="white").save(buffer)
    return buffer.getvalue()


def svg(text: str) -> bytes:
    buffer = io.BytesIO()
    _qr(text).make_image(image_factory=qrcode.image.svg.SvgPathImage).save(buffer)
    return buffer.getvalue()


def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for path in CJK_FONTS:
        if path.exists():
            return ImageFont.truetype(str(path), size)
    return ImageFont.load_default()


def printed_card(card: dict[str, Any]) -> bytes:
    """A printable card (85.6 × 54 mm at 300 dpi): the QR, the person's masked details, until
    when it is valid, and what to do if it is lost."""
    picture = Image.new("RGB", (1011, 638), "white")
    draw = ImageDraw.Draw(picture)
    draw.rectangle((0, 0, 1010, 110), fill=(0, 94, 160))
    draw.text((40, 28), "一码通城 · 市民码（实体卡）", font=font(48), fill="white")
    qr_image = _qr(card["code"], box_size=10).make_image(fill_color="black", back_color="white")
    qr_image = qr_image.get_image().resize((440, 440))
    picture.paste(qr_image, (30, 150))
    body, small = font(40), font(30)
    grey = (60, 60, 60)
    draw.text((500, 170), f"姓名：{card['name']}", font=body, fill="black")
    draw.text((500, 240), "证件号：", font=body, fill="black")
    draw.text((500, 295), card["id_number_masked"], font=body, fill="black")
    draw.text((500, 370), f"签发：{card['issued_at'][:10]}", font=small, fill=grey)
    if card.get("expires_at"):
        draw.text((500, 415), f"有效期至：{card['expires_at'][:10]}", font=small, fill=grey)
    offline = "可离线核验" if card.get("offline") else "仅限联网核验"
    draw.text((500, 460), offline, font=small, fill=grey)
    for at, line in zip((520, 565), str(card["if_lost"]).split("，", 1), strict=False):
        draw.text((500, at), line, font=font(26), fill=grey)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


class Unreadable(ValueError):
    """No QR code could be read from the image."""


class SeveralCodes(Unreadable):
    """The image holds QR codes of different texts: which one was meant is not ours to guess."""


MAX_SCAN_PIXELS = 24_000_000


def read(image: bytes) -> str:
    """The text of the QR code in a photo, screenshot or scan (PNG, JPEG, WebP…)."""
    import zxingcpp  # imported here: only the verifier pages read images

    try:
        with Image.open(io.BytesIO(image)) as opened:
            if opened.width * opened.height > MAX_SCAN_PIXELS:
                raise Unreadable("the image is too large")
            picture = opened.convert("L")
    except (OSError, Image.DecompressionBombError) as exc:
        raise Unreadable("not an image") from exc
    qr_only = zxingcpp.barcode_formats_from_str("QRCode")
    found = zxingcpp.read_barcodes(picture, formats=qr_only)
    texts = {str(symbol.text) for symbol in found}
    if not texts:
        raise Unreadable("no QR code in the image")
    if len(texts) > 1:
        raise SeveralCodes(f"{len(texts)} different QR codes in the image")
    return texts.pop()
