"""Every role's home lists the pages its token opens; the pages never show or do more than
the token may (the API refuses, the page says so in Chinese, with no trace); each page
passes axe-core, the citizen's at a phone's 360 × 740."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from playwright.sync_api import BrowserContext, expect

from tests.browser.conftest import DESKTOP, PHONE, accessible, arrived, log_in, screenshot
from tests.e2e.conftest import DEMO_PASSWORD

Opener = Callable[[dict[str, Any]], BrowserContext]
DRAFT = {
    "code": "draft-only",
    "title": "未发布的草案",
    "department": "区市场监管局",
    "category": "test",
    "subject_type": "person",
    "mode": "apply",
    "conditions": {"fact": "age", "op": ">=", "value": 18, "label": "成年"},
}


@pytest.mark.parametrize(
    ("username", "links"),
    [
        ("verifier.metro", ["扫码核验"]),
        ("ent.xinghe", ["企业码与证照", "政策与补贴"]),
        ("staff.nh", ["登记", "证照签发", "政策管理", "督办任务"]),
        ("supervisor.hp", ["政策管理", "督办任务"]),
    ],
)
def test_each_role_s_home_opens_its_pages(
    open_context: Opener, username: str, links: list[str]
) -> None:
    page = open_context(DESKTOP).new_page()
    log_in(page, username, DEMO_PASSWORD, "/")
    tiles = page.get_by_role("main").get_by_role("link")
    expect(tiles).to_have_text(links)
    accessible(page)


def test_a_citizen_s_pages_on_a_phone(open_context: Opener, citizen: dict[str, Any]) -> None:
    phone = open_context(PHONE).new_page()
    log_in(phone, citizen["username"], citizen["password"], "/")
    expected = ["我的码", "我的证照", "我的政策", "谁看过我的数据", "代办人"]
    expect(phone.get_by_role("main").get_by_role("link")).to_have_text(expected)
    accessible(phone)
    phone.get_by_role("main").get_by_role("link", name="我的政策").click()
    expect(phone.get_by_role("heading", name="政策匹配结果")).to_be_visible()
    accessible(phone)
    screenshot(phone, "citizen-policies-phone")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 360  # nothing runs off a phone's screen


def test_pages_never_do_more_than_the_token_and_never_show_a_trace(
    open_context: Opener,
    citizen: dict[str, Any],
    http: httpx.Client,
    login: Callable[[str], dict[str, str]],
) -> None:
    page = open_context(PHONE).new_page()
    log_in(page, citizen["username"], citizen["password"], "/citizen/code")
    # And the API itself: a draft policy is the authors' work, hidden from the public.
    draft = http.post("/v1/policies", headers=login("staff.sj"), json=DRAFT)
    assert draft.status_code == 201, draft.text
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "occ_session")
    as_citizen = {"Authorization": f"Bearer {token}"}
    listed = http.get("/v1/policies", headers=as_citizen).json()
    assert draft.json()["id"] not in [p["id"] for p in listed]
    assert http.get(f"/v1/policies/{draft.json()['id']}", headers=as_citizen).status_code == 404

    for path, said in (
        ("/staff/policies", "只有工作人员可以管理政策"),
        ("/staff/certificates", "只有工作人员可以登记和签发"),
        ("/tasks", "只有工作人员可以查看督办任务"),
        ("/tasks/task_does_not_exist", "只有工作人员可以查看督办任务"),
        ("/verify", "您的账户不是核验账户"),
    ):
        response = page.goto(path)
        assert response is not None
        assert response.status == 403, path
        expect(page.get_by_role("alert")).to_contain_text(said)
        expect(page.locator("body")).not_to_contain_text("Traceback")
        accessible(page)

    staff = open_context(DESKTOP).new_page()
    log_in(staff, "staff.tyj", DEMO_PASSWORD, "/tasks")
    response = staff.goto("/tasks/task_does_not_exist")
    assert response is not None
    assert response.status == 404
    expect(staff.get_by_role("alert")).to_contain_text("没有找到")
    accessible(staff)


def test_a_session_without_a_token_goes_to_the_login_and_back(open_context: Opener) -> None:
    page = open_context(DESKTOP).new_page()
    page.goto("/citizen/certificates")
    expect(page).to_have_url("/login?next=/citizen/certificates")
    page.get_by_label("用户名").fill("citizen.li")
    page.get_by_label("密码").fill("wrong-password")
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("alert")).to_have_text("⚠ 用户名或密码不正确")
    accessible(page)


def test_a_form_without_the_session_s_csrf_token_changes_nothing(
    open_context: Opener, citizen: dict[str, Any]
) -> None:
    page = open_context(PHONE).new_page()
    log_in(page, citizen["username"], citizen["password"], "/citizen/code")
    forged = page.request.post("/citizen/code/freeze", form={"csrf": "forged"})
    assert forged.status == 403
    assert "页面已过期" in forged.text()
    missing = page.request.post("/citizen/code/freeze", form={})
    assert missing.status == 403
    page.reload()
    expect(page.get_by_role("img", name=re.compile("市民码二维码"))).to_be_visible()  # not frozen


def test_a_citizen_logs_in_and_refreshes_the_code_with_the_keyboard_alone(
    open_context: Opener, citizen: dict[str, Any]
) -> None:
    page = open_context(PHONE).new_page()
    page.goto("/login?next=/citizen/code")

    def tab_to(name: str) -> None:
        for _ in range(15):
            page.keyboard.press("Tab")
            focused = "document.activeElement.textContent.trim() || document.activeElement.id"
            if page.evaluate(focused) == name:
                outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
                assert outline != "none"  # the focus is visible
                return
        raise AssertionError(f"Tab never reached {name}")

    tab_to("username")
    page.keyboard.type(citizen["username"])
    tab_to("password")
    page.keyboard.type(citizen["password"])
    page.keyboard.press("Enter")
    arrived(page, "/citizen/code")
    tab_to("立即刷新")
    page.keyboard.press("Enter")
    expect(page.locator(".code-status")).to_have_text("二维码已刷新")
