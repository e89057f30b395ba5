"""«Аналитика» in Chromium on the demo's month of calls: the charts are drawn, the numbers are
there as tables too, and choosing an employee narrows the page (and its address)."""

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from playwright.sync_api import expect

from core import demo
from core.db import Database
from core.passwords import Passwords
from tests.support.chromium import screenshot

pytestmark = pytest.mark.browser


async def demo_project(url):
    async with Database(url) as db:
        return await demo.fill(db, Passwords(cheap=True))


@pytest.fixture
def admin_page(new_page, live):
    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API holds this thread's loop
        email, password = pool.submit(asyncio.run, demo_project(live.database_url)).result(60)
    page = new_page()
    page.goto("/login")
    page.get_by_label("Email *").fill(email)
    page.get_by_label("Пароль *").fill(password)
    page.get_by_role("button", name="Войти").click()
    expect(page.get_by_role("heading", name="Клиенты")).to_be_visible()
    return page


def test_the_team_month_in_charts_and_an_employee_of_it(admin_page, tmp_path):
    page = admin_page
    page.set_viewport_size({"width": 1280, "height": 1400})
    page.get_by_role("link", name="Аналитика").click()
    expect(page.get_by_role("heading", name="Аналитика", exact=True)).to_be_visible()
    days = page.get_by_role("img", name=re.compile("Звонки по дням"))
    expect(days).to_be_visible()
    assert days.locator("rect").count() > 40  # a month of stacked bars
    heatmap = page.get_by_role("img", name=re.compile("Входящие звонки по часам"))
    expect(heatmap.locator("rect.heat")).to_have_count(7 * 24)
    rows = page.locator("#analytics-employees tbody tr")
    expect(rows).to_have_count(2)
    screenshot(page, "analytics", tmp_path)

    page.get_by_text("Таблица по дням").click()
    by_day = page.locator("#chart-days table tbody tr")
    expect(by_day.first).to_be_visible()
    assert by_day.count() == 30  # the last 30 days, today included

    page.get_by_label("Сотрудник", exact=True).select_option(label="Иван Петров")
    page.get_by_role("button", name="Показать").click()
    expect(page).to_have_url(re.compile(r"employee=\d+"))
    expect(rows).to_have_count(1)
    expect(rows.first.get_by_role("rowheader")).to_have_text("Иван Петров")
    calls = rows.first.locator("[data-col=calls]").inner_text()
    rows.first.locator("[data-col=calls] a").click()  # the same calls in «Звонки»
    expect(page.get_by_role("heading", name="Звонки")).to_be_visible()
    expect(page.get_by_label("Сотрудник", exact=True)).to_have_value(re.compile(r"\d+"))
    assert int(calls) > 50
