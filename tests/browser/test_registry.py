"""Staff register a person on the page, issue them a certificate from the type's fields and
revoke it with a reason; the supervisor reads the units' statistics."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from playwright.sync_api import BrowserContext, expect

from tests.browser.conftest import DESKTOP, accessible, log_in, screenshot
from tests.e2e.conftest import DEMO_PASSWORD
from tests.idnumbers import resident_id

Opener = Callable[[dict[str, Any]], BrowserContext]


def test_staff_register_a_person_then_issue_and_revoke_a_certificate(
    open_context: Opener,
) -> None:
    street = open_context(DESKTOP).new_page()
    log_in(street, "staff.nh", DEMO_PASSWORD, "/staff/people")
    accessible(street)
    street.get_by_label("姓名").fill("钱玉兰")
    id_number = resident_id("19470611")
    street.get_by_label("居民身份证号").fill(id_number)
    street.get_by_label("所属社区").select_option(value="CN-LN-SY/HP/NH/XH")
    street.get_by_role("button", name="登记居民").click()
    expect(street.get_by_role("status")).to_contain_text("已登记 钱玉兰")
    expect(street.get_by_role("status")).not_to_contain_text(id_number)  # masked
    row = street.get_by_role("row").filter(has_text="钱玉兰")
    subject = row.get_by_role("cell").nth(3).inner_text()
    assert subject.startswith("p_")

    federation = open_context(DESKTOP).new_page()
    log_in(federation, "staff.cl", DEMO_PASSWORD, "/staff/certificates")
    federation.get_by_label("证照类型").select_option(label="残疾人证")
    federation.get_by_role("button", name="填写该类证照").click()
    federation.get_by_label("持证人编号（居民或企业）").fill(subject)
    federation.get_by_label("持证人", exact=True).fill("钱玉兰")
    federation.get_by_label("类别", exact=True).select_option("视力")
    federation.get_by_label("等级", exact=True).select_option("二级")
    accessible(federation)
    federation.get_by_role("button", name="签发").click()
    expect(federation.get_by_role("status")).to_contain_text("已签发，证号")
    number = re.search(r"证号 (\S+)。", federation.get_by_role("status").inner_text())
    assert number is not None

    federation.get_by_label("持证人编号", exact=True).fill(subject)
    federation.get_by_role("button", name="查询").click()
    held = federation.get_by_role("article").filter(has_text=number.group(1))
    expect(held).to_contain_text("状态：有效")
    held.get_by_label(re.compile("^注销原因")).fill("持证人迁出本市")
    held.get_by_role("button", name=re.compile("^注销")).click()
    expect(federation.get_by_role("status")).to_contain_text("证照已注销")
    expect(federation.get_by_role("article").filter(has_text=number.group(1))).to_contain_text(
        "状态：已注销"
    )
    accessible(federation)
    screenshot(federation, "staff-certificate-revoked")


def test_a_supervisor_reads_unit_statistics(open_context: Opener) -> None:
    page = open_context(DESKTOP).new_page()
    log_in(page, "supervisor.hp", DEMO_PASSWORD, "/tasks")
    page.get_by_role("link", name="查看单位统计").click()
    table = page.locator("#unit-stats")
    expect(table.get_by_role("rowheader", name="南湖街道")).to_be_visible()
    expect(page.get_by_role("region", name="收到任务数")).to_contain_text("和平区")
    accessible(page)
    screenshot(page, "supervisor-statistics")
