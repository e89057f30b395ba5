"""An admin opens «Журнал действий» from «Настройки» and finds their own sign-in; the journal
reads on a phone without the page scrolling sideways."""

import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from playwright.sync_api import expect

from tests.support import builders
from tests.support.chromium import screenshot
from tests.support.databases import run_core

pytestmark = pytest.mark.browser


def test_an_admin_finds_their_sign_in_in_the_journal(new_page, live, tmp_path):
    with ThreadPoolExecutor(1) as pool:
        anna = pool.submit(run_core, live.database_url, builders.admin).result(timeout=60)
    page = new_page()
    page.goto("/login")
    page.get_by_label("Email").fill(anna["email"])
    page.get_by_label("Пароль").fill("wrong-password")
    page.get_by_role("button", name="Войти").click()
    expect(page.get_by_role("alert")).to_have_text("Неверный email или пароль.")
    page.get_by_label("Пароль").fill(builders.PASSWORD)
    page.get_by_role("button", name="Войти").click()

    page.get_by_role("navigation", name="Разделы").get_by_role("link", name="Настройки").click()
    page.get_by_role("link", name="Открыть журнал действий").click()
    expect(page.get_by_role("heading", name="Журнал действий")).to_be_visible()
    rows = page.locator("table.audit tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("Анна Админова")
    expect(rows.first).to_contain_text("Вход в систему")
    expect(rows.first).to_contain_text("127.0.0.1")
    expect(rows.nth(1)).to_contain_text("Неудачная попытка входа")
    expect(rows.nth(1)).to_contain_text(anna["email"])
    screenshot(page, "audit-log", tmp_path)

    page.get_by_label("Действие").select_option(label="Неудачная попытка входа")
    page.get_by_role("button", name="Показать").click()
    expect(page).to_have_url(re.compile(r"action=sign_in_failed"))
    expect(rows).to_have_count(1)

    page.set_viewport_size({"width": 390, "height": 800})
    page.goto("/audit")
    expect(rows).to_have_count(2)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "audit-log-phone", tmp_path)
