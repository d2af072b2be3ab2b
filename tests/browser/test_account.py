"""My account page: the devices where I am logged in, ending one (a lost phone), and the
phone then finds itself logged out on its next page."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import httpx
from playwright.sync_api import BrowserContext, expect

from tests.browser.conftest import DESKTOP, PHONE, accessible, arrived, log_in
from tests.idnumbers import resident_id

Opener = Callable[[dict[str, Any]], BrowserContext]


def test_a_person_sees_their_devices_and_logs_a_lost_phone_out(
    open_context: Opener, http: httpx.Client, login: Callable[[str], dict[str, str]]
) -> None:
    username, password = f"browser.{secrets.token_hex(3)}", "Device-pass-2026"
    created = http.post(
        "/v1/persons",
        headers=login("staff.nh"),
        json={
            "name": "周设备",
            "id_number": resident_id("19660606"),
            "org_path": "CN-LN-SY/HP/NH/XH",
            "account": {"username": username, "password": password},
        },
    )
    assert created.status_code == 201, created.text
    phone = open_context(PHONE).new_page()
    log_in(phone, username, password, "/citizen/code")
    desk = open_context(DESKTOP).new_page()
    log_in(desk, username, password, "/account")
    devices = desk.get_by_role("region", name="登录设备")
    expect(devices.get_by_role("listitem")).to_have_count(2)
    expect(devices).to_contain_text("本设备")
    accessible(desk)

    desk.get_by_role("button", name="退出其他所有设备").click()
    expect(desk.get_by_role("status")).to_contain_text("其他设备已全部退出")
    expect(devices.get_by_role("listitem")).to_have_count(1)

    phone.reload()
    arrived(phone, "/login")
