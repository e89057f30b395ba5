"""«Выйти на всех устройствах» in Chromium: an employee signed in on two devices ends the
other one from «Профиль», and that device's open page goes to the sign-in page (issue 11)."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.support import builders
from tests.support.chromium import screenshot
from tests.support.databases import run_core

pytestmark = pytest.mark.browser


def sign_in(page: Any, email: str) -> None:
    page.goto("/login")
    page.get_by_label("Email *").fill(email)
    page.get_by_label("Пароль *").fill(builders.PASSWORD)
    page.get_by_role("button", name="Войти").click()
    expect(page.get_by_role("heading", name="Клиенты")).to_be_visible()


def test_signing_out_on_all_devices_sends_the_other_device_to_the_sign_in_page(
    new_page, live, tmp_path
):
    # Playwright's sync API holds this thread's event loop: set up data from another thread.
    with ThreadPoolExecutor(1) as pool:
        anna = pool.submit(run_core, live.database_url, builders.admin).result(timeout=60)
    laptop, phone = new_page(), new_page()
    sign_in(laptop, anna["email"])
    sign_in(phone, anna["email"])

    laptop.get_by_role("banner").get_by_role("link", name=anna["name"]).click()
    expect(laptop.get_by_role("heading", name="Профиль")).to_be_visible()
    sessions = laptop.locator("ul.sessions > li")
    expect(sessions).to_have_count(2)
    expect(sessions.first).to_contain_text("Это устройство")
    laptop.get_by_role("button", name="Выйти на всех устройствах").click()
    expect(laptop.get_by_role("status")).to_have_text("Завершено сеансов: 1.")
    expect(sessions).to_have_count(1)
    screenshot(laptop, "profile", tmp_path)

    # The other device's open page reloads by itself, onto the sign-in page; a click there
    # would have led to it too.
    expect(phone.get_by_role("heading", name="Вход в CRM")).to_be_visible()
    expect(phone).to_have_url(re.compile(r"/login\?next="))
    phone.goto("/clients")
    expect(phone.get_by_role("heading", name="Вход в CRM")).to_be_visible()

    laptop.get_by_role("link", name="Клиенты", exact=True).click()  # this device stays
    expect(laptop.get_by_role("heading", name="Клиенты")).to_be_visible()
