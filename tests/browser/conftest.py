"""Browser tests: Debian's Chromium driven by Playwright against the suite started as
``make up`` starts it (the same session fixtures as the end-to-end tests). Every page a test
opens is checked with axe-core; every test leaves a screenshot of its final page in
``tests/browser/screenshots/`` (git-ignored)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tests.conftest import Suite
from tests.e2e.conftest import demo, http, login  # noqa: F401 - shared session fixtures
from tests.idnumbers import resident_id

HERE = Path(__file__).resolve().parent
AXE = HERE / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = HERE / "screenshots"
CHROMIUM = "/usr/bin/chromium"
# A phone as the citizen holds it (360 × 740 CSS pixels, a dense screen, touch) and a
# counter's desktop.
PHONE: dict[str, Any] = {
    "viewport": {"width": 360, "height": 740},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
DESKTOP: dict[str, Any] = {"viewport": {"width": 1280, "height": 900}}
PASSWORD = "Browser-pass-2026"
# Chromium on a closed network: no background fetches, no first-run, no sandbox as root.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def open_context(
    browser: Browser,
    running_suite: Suite,
    demo: dict[str, Any],  # noqa: F811 - the demo city's people log in
) -> Iterator[Callable[[dict[str, Any]], BrowserContext]]:
    opened: list[BrowserContext] = []

    def make(device: dict[str, Any]) -> BrowserContext:
        context = browser.new_context(base_url=running_suite.base_url, locale="zh-CN", **device)
        context.set_default_timeout(10_000)
        opened.append(context)
        return context

    yield make
    for context in opened:
        context.close()


AXE_SOURCE = AXE.read_text(encoding="utf-8") if AXE.exists() else ""


def accessible(page: Page) -> None:
    """axe-core on the page as it is now: no serious or critical violation."""
    # Evaluated by the browser's debugging protocol: the page's own CSP (no inline script)
    # keeps refusing any script the page did not load from its files.
    page.evaluate(AXE_SOURCE)
    violations: list[dict[str, Any]] = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
            .map(v => ({id: v.id, impact: v.impact, help: v.help,
                        nodes: v.nodes.map(n => n.target.join(" ")).slice(0, 3)}))"""
    )
    grave = [v for v in violations if v["impact"] in ("serious", "critical")]
    assert grave == [], f"{page.url}: {grave}"


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def log_in(page: Page, username: str, password: str, landing: str) -> None:
    page.goto(f"/login?next={landing}")
    expect(page.get_by_role("heading", name="登录")).to_be_visible()
    accessible(page)
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    arrived(page, landing)


def arrived(page: Page, path: str) -> None:
    """Wait until the page is at ``path`` (the login page's ``?next=`` names it too)."""
    page.wait_for_url(lambda url: urlsplit(url).path == path)


@pytest.fixture(scope="session")
def citizen(http: httpx.Client, login: Callable[[str], dict[str, str]]) -> dict[str, Any]:  # noqa: F811
    """A citizen of 新华社区 with a login, registered for the browser tests."""
    body = {
        "name": "孙丽华",
        "id_number": resident_id("19560817"),
        "org_path": "CN-LN-SY/HP/NH/XH",
        "phone": "13800000088",
        "account": {"username": "browser.sun", "password": PASSWORD},
    }
    created = http.post("/v1/persons", headers=login("staff.nh"), json=body)
    assert created.status_code == 201, created.text
    return {"id": created.json()["id"], "username": "browser.sun", "password": PASSWORD}
