"""A citizen shows their code on a phone; a verifier's page reads the QR image the
citizen's page shows (a screenshot of it, as a counter camera would see it) and verifies
it; the same image again is refused as a replay. The citizen freezes and unfreezes the code."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any

import httpx
import numpy
from PIL import Image
from playwright.sync_api import BrowserContext, expect

from services.gateway import qr
from tests.browser.conftest import DESKTOP, PHONE, accessible, log_in, screenshot
from tests.e2e.conftest import DEMO_PASSWORD
from tests.idnumbers import resident_id

Opener = Callable[[dict[str, Any]], BrowserContext]


def decoded(png: bytes) -> str:
    """What a counter's QR scanner pointed at the screen would read: the one QR code of the
    picture, read as the verifier page reads it (refused when there is none, or two that
    differ)."""
    return qr.read(png)


def camera_photo(shown: bytes) -> bytes:
    """The QR as a phone camera photographs it: a 2400 × 1800 JPEG of several MB (sensor
    noise around it), the code larger than on the screenshot."""
    rng = numpy.random.default_rng(2026)
    photo = Image.fromarray(rng.integers(0, 256, (1800, 2400, 3), dtype=numpy.uint8))
    code = Image.open(io.BytesIO(shown)).convert("RGB")
    times = max(1, 1500 // max(code.size))
    code = code.resize((code.width * times, code.height * times), Image.Resampling.NEAREST)
    photo.paste(code, ((2400 - code.width) // 2, (1800 - code.height) // 2))
    out = io.BytesIO()
    photo.save(out, "JPEG", quality=92)
    return out.getvalue()


def test_a_verifier_page_verifies_the_code_a_citizen_page_shows(
    open_context: Opener, citizen: dict[str, Any]
) -> None:
    # The counter is ready first: codes live for seconds (ten in this suite).
    counter = open_context(DESKTOP).new_page()
    log_in(counter, "verifier.metro", DEMO_PASSWORD, "/verify")
    accessible(counter)

    phone = open_context(PHONE).new_page()
    log_in(phone, citizen["username"], citizen["password"], "/citizen/code")
    expect(phone.get_by_role("heading", name="我的码", exact=True)).to_be_visible()
    code = phone.get_by_role("img", name=re.compile("市民码二维码"))
    expect(code).to_be_visible()
    expect(phone.locator("#countdown")).to_have_text(re.compile(r"^\d+$"))
    shown = code.screenshot()
    assert decoded(shown).count(".") == 2  # what the page shows is a signed code

    counter.get_by_label("核验场景").select_option(label="地铁")
    counter.get_by_label("拍摄或选择二维码图片").set_input_files(
        files=[{"name": "code.png", "mimeType": "image/png", "buffer": shown}]
    )
    counter.get_by_role("button", name="核验").click()
    verdict = counter.get_by_role("heading", name=re.compile("核验通过"))
    expect(verdict).to_be_visible()
    expect(counter.locator(".shown dt")).to_have_text(["优待类型"])  # all metro may see
    expect(counter.locator(".shown dd")).to_have_text(["老年人"])  # born 1956
    accessible(counter)
    screenshot(counter, "verifier-pass")
    accessible(phone)
    screenshot(phone, "citizen-code-phone")

    # The same code again, photographed by a phone camera (over the 1 MB upload limit, so
    # the page shrinks it first): a replayed code, refused in red with the reason in words.
    photo = camera_photo(shown)
    assert len(photo) > 1024 * 1024
    counter.get_by_label("拍摄或选择二维码图片").set_input_files(
        files=[{"name": "IMG_2031.jpg", "mimeType": "image/jpeg", "buffer": photo}]
    )
    counter.get_by_role("button", name="核验").click()
    expect(counter.get_by_role("heading", name=re.compile("核验未通过"))).to_be_visible()
    expect(counter.locator(".reason")).to_contain_text("已被使用过")
    accessible(counter)

    # The citizen sees both scans: who, where, and what became of them.
    phone.get_by_role("link", name="谁看过我的数据").click()
    scans = phone.get_by_role("region", name="扫码记录")
    expect(scans.get_by_role("row").filter(has_text="地铁青年大街站闸机")).to_have_count(2)
    expect(scans).to_contain_text("重复使用，已拒绝")
    expect(scans).to_contain_text("通过")
    accessible(phone)


def test_a_citizen_freezes_and_unfreezes_their_code_on_a_phone(
    open_context: Opener, citizen: dict[str, Any]
) -> None:
    phone = open_context(PHONE).new_page()
    log_in(phone, citizen["username"], citizen["password"], "/citizen/code")
    phone.once("dialog", lambda dialog: dialog.accept())
    phone.get_by_role("button", name="冻结我的码").click()
    expect(phone.get_by_role("status")).to_contain_text("您的码已冻结")
    expect(phone.get_by_role("img", name=re.compile("市民码二维码"))).to_have_count(0)
    accessible(phone)
    phone.get_by_role("button", name="解冻我的码").click()
    expect(phone.get_by_role("status").first).to_contain_text("已解冻")
    expect(phone.get_by_role("img", name=re.compile("市民码二维码"))).to_be_visible()
    screenshot(phone, "citizen-unfrozen-phone")


def test_large_text_mode_persists_across_pages_and_logins(
    open_context: Opener, citizen: dict[str, Any]
) -> None:
    phone = open_context(PHONE).new_page()
    log_in(phone, citizen["username"], citizen["password"], "/citizen/code")
    phone.get_by_role("button", name="大字模式").click()
    expect(phone.locator("html")).to_have_class("large-text")
    expect(phone.get_by_role("button", name="大字模式")).to_have_attribute("aria-pressed", "true")
    phone.get_by_role("button", name="退出").click()
    expect(phone.locator("html")).to_have_class("large-text")  # on the login page too
    log_in(phone, citizen["username"], citizen["password"], "/citizen/code")
    expect(phone.locator("html")).to_have_class("large-text")
    accessible(phone)
    screenshot(phone, "citizen-code-large-text")


def test_a_citizen_authorizes_and_revokes_a_proxy_on_a_phone(
    open_context: Opener,
    citizen: dict[str, Any],
    http: httpx.Client,
    login: Callable[[str], dict[str, str]],
) -> None:
    daughter = {
        "name": "孙小敏",
        "id_number": resident_id("19880302"),
        "org_path": "CN-LN-SY/HP/NH/XH",
    }
    created = http.post("/v1/persons", headers=login("staff.nh"), json=daughter)
    assert created.status_code == 201, created.text
    phone = open_context(PHONE).new_page()
    log_in(phone, citizen["username"], citizen["password"], "/citizen/proxies")
    phone.get_by_label("代办人姓名").fill(daughter["name"])
    phone.get_by_label("代办人身份证号").fill(daughter["id_number"])
    phone.get_by_label("代为确认补贴").check()
    phone.get_by_label("授权截止日期").fill("2027-06-30")
    phone.get_by_role("button", name="授权", exact=True).click()
    expect(phone.get_by_role("status")).to_contain_text("等对方同意后生效")
    mine = phone.get_by_role("region", name="可以代我办事的人")
    expect(mine).to_contain_text("孙小敏：代为确认补贴")
    expect(mine).to_contain_text("等待对方同意")
    accessible(phone)
    screenshot(phone, "citizen-proxies-phone")
    phone.get_by_role("button", name="撤销 孙小敏 的授权").click()
    expect(phone.get_by_role("status")).to_contain_text("已撤销")
    expect(mine).to_contain_text("已撤销")
