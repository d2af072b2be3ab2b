"""Wallet cards: a certificate drawn as a card (face fields, the issuer's seal, a QR that
opens the public authenticity check), as PNG, SVG or a printable PDF. Presentation only."""

from __future__ import annotations

import io
from html import escape
from typing import Any

import qrcode
import qrcode.image.svg
from PIL import Image, ImageDraw

from services.gateway.qr import font

LABELS = {
    "holder_name": "持证人",
    "category": "类别",
    "grade": "等级",
    "sex": "性别",
    "ethnicity": "民族",
    "birth_date": "出生日期",
    "address": "住址",
    "legal_representative": "法定代表人",
    "business_scope": "经营范围",
    "business_mode": "经营方式",
    "scope": "经营范围",
    "main_business": "主体业态",
    "field": "技术领域",
    "vehicle_class": "准驾车型",
    "first_issued": "初次领证",
    "parts": "包含许可",
    "assessor": "评定医生",
    "assessed_on": "评定日期",
}
STATUS = {
    "valid": "有效",
    "revoked": "已注销",
    "suspended": "已暂停",
    "expired": "已过期",
    "superseded": "已变更",
    "not_yet_valid": "尚未生效",
    "invalid": "已失效",
    "not_found": "不存在",
}


def status_text(certificate: dict[str, Any]) -> str:
    """A certificate's status in words; a composite licence names the parts that fail it
    (“已失效（药品经营许可证已注销）”)."""
    text = STATUS.get(certificate["status"], "状态未知")
    failed = certificate.get("failed_parts") or []
    if failed:
        named = "、".join(f"{p.get('name', '')}{STATUS.get(p['status'], '')}" for p in failed)
        text += f"（{named}）"
    return text


WIDTH, HEIGHT = 1011, 638


def _lines(card: dict[str, Any]) -> list[str]:
    lines = []
    for name, value in card["face"].items():
        shown = "、".join(value) if isinstance(value, list) else str(value)
        lines.append(f"{LABELS.get(name, name)}：{shown}")
    lines.append(f"有效期：{card['valid_from']} 至 {card['valid_until']}")
    status = status_text(card)
    lines.append(f"编号：{card['number']}（第{card['version']}版）")
    lines.append(f"验证码：{card['check_code']}（扫码或凭编号和验证码查验照面信息）")
    lines.append(f"状态：{status}")
    return lines


def png(card: dict[str, Any], verify_url: str) -> bytes:
    return _encode(_image(card, verify_url), "PNG")


def pdf(card: dict[str, Any], verify_url: str) -> bytes:
    return _encode(_image(card, verify_url), "PDF")


def _encode(image: Image.Image, kind: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=kind, resolution=300.0)
    return buffer.getvalue()


def _image(card: dict[str, Any], verify_url: str) -> Image.Image:
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, WIDTH - 1, 100), fill=(0, 94, 160))
    draw.text((36, 24), card["type_name"], font=font(48), fill="white")
    y = 130
    body = font(30)
    for line in _lines(card):
        for piece in _wrap(draw, line, body, 660):
            draw.text((36, y), piece, font=body, fill="black")
            y += 44
    # The issuer's seal (电子印章): a red ring with the issuer's name, centred.
    draw.ellipse((700, 380, 960, 620), outline=(200, 0, 0), width=6)
    name = card["issuer_name"]
    size = 26 if len(name) <= 8 else 20
    draw.text((830, 485), name, font=font(size), fill=(200, 0, 0), anchor="mm")
    draw.text((830, 535), "电子印章", font=font(24), fill=(200, 0, 0), anchor="mm")
    code = qrcode.make(verify_url, box_size=6, border=2).get_image().resize((230, 230))
    image.paste(code, (740, 120))
    return image


def _wrap(draw: ImageDraw.ImageDraw, text: str, face: Any, width: int) -> list[str]:
    """Break ``text`` into lines no wider than ``width`` pixels (CJK text has no spaces)."""
    lines, current = [], ""
    for char in text:
        if current and draw.textlength(current + char, font=face) > width:
            lines.append(current)
            current = char
        else:
            current += char
    return [*lines, current] if current else lines


def svg(card: dict[str, Any], verify_url: str) -> bytes:
    qr_svg = io.BytesIO()
    qrcode.make(verify_url, image_factory=qrcode.image.svg.SvgPathImage).save(qr_svg)
    inner = qr_svg.getvalue().decode().split("?>", 1)[-1]
    inner = inner.replace("<svg ", '<svg x="740" y="120" width="230" height="230" ', 1)
    texts = "".join(
        f'<text x="36" y="{160 + 48 * i}" font-size="30">{escape(line)}</text>'
        for i, line in enumerate(_lines(card))
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(card["type_name"])}">'
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>'
        f'<rect width="{WIDTH}" height="100" fill="#005ea0"/>'
        f'<text x="36" y="68" font-size="48" fill="white">{escape(card["type_name"])}</text>'
        f"{texts}{inner}"
        f'<circle cx="830" cy="500" r="120" fill="none" stroke="#c80000" stroke-width="6"/>'
        f'<text x="830" y="495" font-size="20" fill="#c80000" text-anchor="middle">'
        f"{escape(card['issuer_name'])}</text>"
        f'<text x="830" y="535" font-size="26" fill="#c80000" text-anchor="middle">电子印章</text>'
        "</svg>"
    ).encode()
