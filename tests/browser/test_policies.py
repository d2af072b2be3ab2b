"""An enterprise, on its pages, reads why a pushed policy fits it, confirms the payout with
one click and sees it paid by the payment partner; it asks to correct a fact."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import httpx
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.conftest import DESKTOP, accessible, log_in, screenshot
from tests.browser.test_code import decoded
from tests.e2e.conftest import DEMO_PASSWORD

Opener = Callable[[dict[str, Any]], BrowserContext]
TITLE = "科技企业研发投入补助"


def published_confirm_policy(http: httpx.Client, login: Callable[[str], dict[str, str]]) -> str:
    """A confirm-mode policy for enterprises with R&D spending, published, with an offer made
    to 星河科技 for 2026 (through the API, as staff and a tax feed would)."""
    enterprise = login("ent.xinghe")
    org = http.get("/v1/me/organisations", headers=enterprise).json()[0]["id"]
    fed = http.put(
        f"/v1/subjects/{org}/facts", headers=login("admin"), json={"facts": {"rd_expense": 800000}}
    )
    assert fed.status_code == 200, fed.text
    staff = login("staff.sj")
    body = {
        "code": "rd-web",
        "title": TITLE,
        "department": "区科技局",
        "category": "innovation",
        "subject_type": "organisation",
        "mode": "confirm",
        "payout_period": "yearly",
        "budget": 10_000_000,
        "conditions": {
            "all": [
                {
                    "fact": "rd_expense",
                    "op": ">=",
                    "value": 500000,
                    "label": "研发投入达到五千元",
                    "clause": "第三条",
                }
            ]
        },
        "amount": {"rate": 0.05, "of": "rd_expense", "cap": 1_000_000},
    }
    created = http.post("/v1/policies", headers=staff, json=body)
    assert created.status_code == 201, created.text
    policy = created.json()["id"]
    assert http.post(f"/v1/policies/{policy}/publish", headers=staff).status_code == 200
    run = http.post(f"/v1/policies/{policy}/payout-runs", headers=staff, json={"period": "2026"})
    assert run.json()["offered"] == 1, run.text
    return policy


def payout_state(page: Page, wanted: str, timeout: float = 10.0) -> str:
    """The state the records table shows, reloading until it reads ``wanted`` (the partner
    pays a moment after the confirmation and calls back)."""
    row = page.get_by_role("row").filter(has_text=TITLE)
    deadline = time.monotonic() + timeout
    while True:
        shown = row.get_by_role("cell").nth(3).inner_text()
        if shown == wanted or time.monotonic() > deadline:
            return shown
        page.wait_for_timeout(300)
        page.reload()


def test_an_enterprise_confirms_a_pushed_payout_and_sees_it_paid(
    open_context: Opener, http: httpx.Client, login: Callable[[str], dict[str, str]]
) -> None:
    published_confirm_policy(http, login)
    page = open_context(DESKTOP).new_page()
    log_in(page, "ent.xinghe", DEMO_PASSWORD, "/my/policies")
    expect(page.get_by_role("region", name="政策推送")).to_contain_text(TITLE)
    matches = page.get_by_role("region", name="政策匹配结果")
    match = matches.get_by_role("article").filter(has=page.get_by_role("heading", name=TITLE))
    expect(match).to_contain_text("符合 · 满足 1/1 项条件")
    expect(match).to_contain_text("预计可享 400.00 元")  # 5 % of 800,000 fen
    expect(match.get_by_role("listitem")).to_have_text(
        "✓ 研发投入达到五千元（第三条）：已满足。您的情况：800000；要求：不低于 500000"
    )
    accessible(page)

    page.get_by_role("button", name=re.compile(f"一键确认领取：{TITLE}")).click()
    expect(page.get_by_role("status")).to_contain_text("已确认领取")
    assert payout_state(page, "已到账") == "已到账"
    expect(page.get_by_role("button", name=re.compile(f"一键确认领取：{TITLE}"))).to_have_count(0)
    accessible(page)
    screenshot(page, "enterprise-paid")

    # The enterprise disputes a fact: a review item for staff, shown as pending here.
    fact = page.get_by_label("要校正的信息")
    fact.select_option(value="rd_expense")
    expect(fact.locator("option:checked")).to_contain_text("研发投入达到五千元")
    page.get_by_label("正确的值").fill("900000")
    page.get_by_label(re.compile("^依据")).fill("2026 年度研发费用专项审计报告 第 88 号")
    page.get_by_role("button", name="提交校正申请").click()
    expect(page.get_by_role("status")).to_contain_text("校正申请已提交")
    expect(page.get_by_role("listitem").filter(has_text="900000")).to_contain_text("审核中")


def test_an_enterprise_sees_its_code_and_licences(
    open_context: Opener, http: httpx.Client, login: Callable[[str], dict[str, str]]
) -> None:
    org = http.get("/v1/me/organisations", headers=login("ent.xinghe")).json()[0]["id"]
    licence = http.post(
        "/v1/certificates",
        headers=login("staff.sj"),
        json={
            "issuer": "iss_hpsj",
            "type": "business_licence",
            "subject": org,
            "fields": {
                "holder_name": "沈阳星河科技有限公司",
                "legal_representative": "周明",
                "business_scope": "软件开发；信息技术咨询服务",
                "address": "和平区南湖街道文艺路 8 号",
            },
            "request_id": f"browser-licence-{org}",
        },
    )
    assert licence.status_code in (200, 201), licence.text
    page = open_context(DESKTOP).new_page()
    log_in(page, "ent.xinghe", DEMO_PASSWORD, "/enterprise")
    company = page.get_by_role("region", name="沈阳星河科技有限公司")
    code = company.get_by_role("img", name=re.compile("企业码二维码"))
    assert decoded(code.screenshot()).count(".") == 2
    licences = company.get_by_role("article").filter(has_text="营业执照")
    expect(licences).to_contain_text(licence.json()["number"])
    expect(licences).to_contain_text("法定代表人周明")
    accessible(page)
    screenshot(page, "enterprise-code")
