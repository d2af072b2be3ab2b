"""A citizen shows one field of a certificate from their phone (亮证); the verifier's page,
reading the QR the phone shows, sees that field and nothing else; once the citizen withdraws
the presentation, the same QR is refused."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import httpx
from playwright.sync_api import BrowserContext, expect

from tests.browser.conftest import DESKTOP, PHONE, accessible, log_in, screenshot
from tests.browser.test_code import decoded
from tests.e2e.conftest import DEMO_PASSWORD
from tests.e2e.support import fresh_person
from tests.e2e.test_certs import issue_disability

Opener = Callable[[dict[str, Any]], BrowserContext]


def test_a_citizen_shows_one_field_and_the_verifier_sees_only_that_field(
    open_context: Opener,
    http: httpx.Client,
    login: Callable[[str], dict[str, str]],
) -> None:
    citizen = fresh_person(http, login("staff.nh"), "孙丽芳")  # holds no certificate yet
    issued = issue_disability(
        http, login("staff.cl"), citizen["id"], "肢体", "三级", f"browser-{uuid.uuid4().hex[:8]}"
    )
    assert issued.status_code == 201, issued.text

    counter = open_context(DESKTOP).new_page()
    log_in(counter, "verifier.hotel", DEMO_PASSWORD, "/verify")

    phone = open_context(PHONE).new_page()
    log_in(phone, citizen["username"], citizen["password"], "/citizen/certificates")
    card = phone.get_by_role("group", name="残疾人证").filter(has_text=issued.json()["number"])
    expect(card).to_contain_text("有效")
    accessible(phone)
    card.get_by_label(re.compile("^等级")).check()
    phone.get_by_role("button", name="出示所选内容").click()
    expect(phone.get_by_role("heading", name="出示证照")).to_be_visible()
    expect(phone.get_by_role("listitem").filter(has_text="残疾人证")).to_have_text("残疾人证：等级")
    qr = phone.get_by_role("img", name=re.compile("亮证二维码"))
    shown = qr.screenshot()
    assert decoded(shown).count(".") == 2
    accessible(phone)
    screenshot(phone, "citizen-presentation-phone")

    counter.get_by_label("核验场景").select_option(label="酒店入住")
    counter.get_by_label("拍摄或选择二维码图片").set_input_files(
        files=[{"name": "shown.png", "mimeType": "image/png", "buffer": shown}]
    )
    counter.get_by_role("button", name="核验").click()
    expect(counter.get_by_role("heading", name=re.compile("核验通过"))).to_be_visible()
    expect(counter.get_by_role("heading", name="残疾人证")).to_be_visible()
    expect(counter.locator(".shown dt")).to_have_text(["等级"])
    expect(counter.locator(".shown dd")).to_have_text(["三级"])
    result = counter.locator("#result")
    for hidden in ("肢体", "孙丽芳", "类别", "持证人"):
        expect(result).not_to_contain_text(hidden)
    accessible(counter)
    screenshot(counter, "verifier-presentation")

    # The citizen sees who saw which field.
    shown_to = open_context(PHONE).new_page()
    log_in(shown_to, citizen["username"], citizen["password"], "/citizen/privacy")
    records = shown_to.get_by_role("region", name="证照出示记录")
    expect(records).to_contain_text("和平饭店前台 查看了残疾人证的等级")
    accessible(shown_to)

    phone.get_by_role("button", name="撤回出示").click()
    expect(phone.get_by_role("status")).to_contain_text("已撤回出示")
    counter.get_by_label("拍摄或选择二维码图片").set_input_files(
        files=[{"name": "shown.png", "mimeType": "image/png", "buffer": shown}]
    )
    counter.get_by_role("button", name="核验").click()
    expect(counter.get_by_role("heading", name=re.compile("核验未通过"))).to_be_visible()
    expect(counter.locator(".reason")).to_contain_text("撤回")
