"""Staff author a policy on the page (conditions as a form), simulate it (nothing written),
publish it, run a payout and read a ledger that reconciles."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import httpx
from playwright.sync_api import BrowserContext, expect

from tests.browser.conftest import DESKTOP, accessible, log_in, screenshot
from tests.e2e.conftest import DEMO_PASSWORD
from tests.e2e.test_certs import issue_disability
from tests.e2e.test_policy import eventually

Opener = Callable[[dict[str, Any]], BrowserContext]


def holds_a_disability_certificate(
    http: httpx.Client, login: Callable[[str], dict[str, str]], person: str
) -> None:
    """The person holds a disability certificate, and policy has learnt it."""
    issued = issue_disability(http, login("staff.cl"), person, "肢体", "二级", f"cl-{person}")
    assert issued.status_code == 201, issued.text

    def learnt() -> bool:
        facts = http.get(f"/v1/subjects/{person}/facts", headers=login("staff.nh")).json()
        return facts.get("cert_disability_certificate", {}).get("value") == "valid"

    assert eventually(learnt)


def test_staff_author_simulate_publish_and_pay_a_policy(
    open_context: Opener,
    citizen: dict[str, Any],
    http: httpx.Client,
    login: Callable[[str], dict[str, str]],
) -> None:
    holds_a_disability_certificate(http, login, citizen["id"])
    code = f"grade-care-{uuid.uuid4().hex[:6]}"
    # A street's pilot for its own residents: the street's clerk sees the figures of its area
    # (a department is told those outside its own unit only in groups of ten or more).
    piloted = http.put(
        f"/v1/subjects/{citizen['id']}/facts",
        headers=login("staff.nh"),
        json={"facts": {"pilot_group": code}},
    )
    assert piloted.status_code == 200, piloted.text
    page = open_context(DESKTOP).new_page()
    log_in(page, "staff.nh", DEMO_PASSWORD, "/staff/policies")
    accessible(page)
    page.get_by_role("link", name="编制新政策").click()
    page.get_by_label("政策名称").fill("残疾人护理补贴")
    page.get_by_label("政策编码（字母、数字、-）").fill(code)
    page.get_by_label("发布部门").fill("区残联")
    page.get_by_label("适用对象").select_option(label="个人")
    page.get_by_label("兑现方式").select_option(label="免申即享（自动发放）")
    page.get_by_label("发放周期").select_option(label="按年")
    page.get_by_label("预算（元，可不填）").fill("100000")
    first = page.get_by_role("group", name="条件 1")
    first.get_by_label("条件说明").fill("试点对象")
    first.get_by_label(re.compile("^数据项")).fill("pilot_group")
    first.get_by_label("比较").select_option(label="等于")
    first.get_by_label(re.compile("^要求的值")).fill(code)
    first.get_by_label("政策条款").fill("第二条")
    page.get_by_label("固定金额", exact=True).check()
    page.get_by_label("固定金额（元）").fill("200")
    accessible(page)
    page.get_by_role("button", name="保存草稿").click()

    expect(page.get_by_role("heading", name="残疾人护理补贴")).to_be_visible()
    expect(page.locator("#policy-status")).to_have_text("草稿")
    expect(page.locator("pre.conditions")).to_contain_text(
        f"试点对象（第二条）：pilot_group 等于 {code}"
    )
    page.get_by_role("button", name="模拟测算").click()
    simulated = page.get_by_role("region", name="模拟测算结果")
    expect(simulated).to_contain_text("未写入任何数据")
    eligible = int(page.locator("#sim-eligible").inner_text())
    assert eligible == 1  # the citizen of the pilot
    accessible(page)

    page.get_by_role("button", name="发布").click()
    expect(page.locator("#policy-status")).to_have_text("已发布")
    expect(page.get_by_role("status")).to_contain_text(f"当前符合条件 {eligible} 个")
    page.get_by_label(re.compile("^发放期间")).fill("2026")
    page.get_by_role("button", name="开始发放").click()
    expect(page.locator("#run-report")).to_contain_text(f"符合 {eligible} 个")
    ledger = page.get_by_role("region", name="发放台账")
    expect(ledger).to_contain_text("对账：一致")
    accessible(page)
    screenshot(page, "staff-policy-ledger")
