"""A district supervisor works a task on the board (督办): rolls it back from the community
that holds it, dispatches it again, urges it, and watches its card turn yellow (黄牌, said
in words, not only in colour) once its due time passes (a due time seconds away: the sweep
runs on the real clock, with no clock a test could move in production)."""

from __future__ import annotations

import re
import time
import uuid
from base64 import b64encode
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from playwright.sync_api import BrowserContext, Locator, Page, expect

from tests.browser.conftest import DESKTOP, accessible, log_in, screenshot
from tests.conftest import ADMIN_USER
from tests.e2e.conftest import DEMO_PASSWORD, demo_city
from tests.working_day import today_a_working_day

Opener = Callable[[dict[str, Any]], BrowserContext]
XH = f"{demo_city.DISTRICT}/NH/XH"
DUE_IN = timedelta(seconds=40)


def card_of(page: Page, title: str) -> Locator:
    return page.get_by_role("listitem").filter(has=page.get_by_role("link", name=title))


def card_says(page: Page, title: str, wanted: str, timeout: float) -> bool:
    """Reload the board until the task's card says ``wanted`` (the sweep raises cards)."""
    deadline = time.monotonic() + timeout
    while True:
        if wanted in card_of(page, title).inner_text():
            return True
        if time.monotonic() > deadline:
            return False
        page.wait_for_timeout(500)
        page.reload()


@pytest.fixture
def working_today(http: httpx.Client, login: Callable[[str], dict[str, str]]) -> Iterator[None]:
    with today_a_working_day(http, login(ADMIN_USER)):
        yield


@pytest.mark.usefixtures("working_today")
def test_a_supervisor_rolls_back_and_urges_and_sees_the_card_turn_yellow(
    open_context: Opener, http: httpx.Client, login: Callable[[str], dict[str, str]]
) -> None:
    title = f"井盖缺失-{uuid.uuid4().hex[:6]}"
    due = datetime.now(UTC) + DUE_IN
    created = http.post(
        "/v1/tasks",
        headers=login("staff.nh"),
        json={
            "title": title,
            "category": "municipal",
            "units": [XH],
            "limit": {"due_at": due.isoformat()},
        },
    )
    assert created.status_code == 201, created.text

    page = open_context(DESKTOP).new_page()
    log_in(page, "supervisor.hp", DEMO_PASSWORD, "/tasks")
    board = page.get_by_role("region", name=re.compile("办理中"))
    expect(board.get_by_role("link", name=title)).to_be_visible()
    expect(card_of(page, title)).not_to_contain_text("黄牌")
    accessible(page)

    page.get_by_role("link", name=title).click()
    expect(page.get_by_role("heading", name=title)).to_be_visible()
    accessible(page)
    page.get_by_label("回退原因").select_option(label="信息不全")
    page.get_by_label("回退说明").fill("缺少具体位置")
    page.get_by_role("button", name="回退").click()
    expect(page.get_by_role("status")).to_contain_text("已回退")
    expect(page.locator("#task-state")).to_have_text("已退回")

    page.get_by_label("派发给（单位编码）").fill(XH)
    page.get_by_role("button", name="派发").click()
    expect(page.locator("#task-state")).to_have_text("待签收")
    page.get_by_label("催办留言").fill("请今日内处理")
    page.get_by_role("button", name="催办").click()
    expect(page.get_by_role("status")).to_contain_text("已催办")
    history = page.get_by_role("region", name="办理记录")
    for step in ("回退", "派发", "催办"):
        expect(history).to_contain_text(step)
    accessible(page)

    page.get_by_role("link", name="返回任务看板").click()
    left = (due - datetime.now(UTC)).total_seconds()
    assert card_says(page, title, "黄牌", timeout=left + 20), card_of(page, title).inner_text()
    expect(card_of(page, title).locator(".badge-yellow")).to_have_text("黄牌")
    accessible(page)
    screenshot(page, "supervisor-board-yellow")


def test_the_street_that_transferred_a_task_reads_the_answer_and_its_photo_then_approves(
    open_context: Opener, http: httpx.Client, login: Callable[[str], dict[str, str]]
) -> None:
    """The reviewer does not approve blind: the community's answer and its photo are on the
    page, the photo downloads as a file."""
    nh = f"{demo_city.DISTRICT}/NH"
    title = f"楼道堆物-{uuid.uuid4().hex[:6]}"
    body = {"title": title, "category": "municipal", "units": [nh], "limit": {"working_days": 5}}
    task = http.post("/v1/tasks", headers=login("supervisor.hp"), json=body).json()
    street, community = login("staff.nh"), login("staff.xh")
    for step, who, extra in (
        ("accept", street, {}),
        ("transfer", street, {"unit": XH, "reason": "网格"}),
        ("accept", community, {}),
        ("start", community, {}),
    ):
        done = http.post(f"/v1/tasks/{task['id']}/{step}", headers=who, json=extra)
        assert done.status_code == 200, done.text
    photo = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
    answer = {
        "text": "堆物已清理完毕。",
        "attachments": [
            {
                "name": "清理后.png",
                "content_type": "image/png",
                "content": b64encode(photo).decode(),
            }
        ],
    }
    sent = http.post(f"/v1/tasks/{task['id']}/feedback", headers=community, json=answer)
    assert sent.status_code == 200, sent.text

    page = open_context(DESKTOP).new_page()
    log_in(page, "staff.nh", DEMO_PASSWORD, f"/tasks/{task['id']}")
    result = page.get_by_role("region", name="办理结果")
    expect(result).to_contain_text("堆物已清理完毕。")
    expect(result).to_contain_text("新华社区")
    with page.expect_download() as downloading:
        result.get_by_role("link", name="清理后.png").click()
    assert downloading.value.suggested_filename == "清理后.png"
    accessible(page)
    page.get_by_label("通过，办结").check()
    page.get_by_role("button", name="提交审核").click()
    expect(page.locator("#task-state")).to_have_text("已办结")
