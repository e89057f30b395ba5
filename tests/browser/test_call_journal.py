"""«Звонки» in Chromium: open it from the nav, filter it (the address carries the filter), a new
call arrives at the top live, and the page fits a phone's width."""

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from core.db import Database
from tests.support import builders
from tests.support import megafon as samples
from tests.support.chromium import screenshot

pytestmark = pytest.mark.browser


async def project_with_key(url):
    async with Database(url) as db:
        return await builders.team_with_key(db)


def post(live, key, hook):
    response = httpx.post(f"{live.url}/megafon_webhook", data={**hook, "crm_token": key})
    assert response.status_code == 200, response.text


def test_the_journal_filters_by_address_and_shows_new_calls_live(new_page, live, tmp_path):
    with ThreadPoolExecutor(1) as pool:
        key = pool.submit(asyncio.run, project_with_key(live.database_url)).result(timeout=60)
    for hook in (samples.W3, samples.W8, samples.W10):
        post(live, key, hook)

    page = new_page()
    page.goto("/login")
    page.get_by_label("Email *").fill("anna@romashka.ru")
    page.get_by_label("Пароль *").fill(builders.PASSWORD)
    page.get_by_role("button", name="Войти").click()
    page.get_by_role("navigation", name="Разделы").get_by_role("link", name="Звонки").click()
    rows = page.locator("#journal-rows tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("Пропущенный")

    page.get_by_label("Направление", exact=True).select_option("in")
    page.get_by_label("Номер или клиент").fill("8 926 555-01-01")
    page.get_by_role("button", name="Показать").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Успешный")
    assert "direction=in" in page.url and "q=8" in page.url
    page.goto("/calls?direction=in")
    expect(rows).to_have_count(2)
    page.wait_for_function("document.body.getAttribute('sse-connect').includes('journal=1')")
    page.wait_for_timeout(300)  # the stream is connecting

    # A new inbound call rings: it appears on top; when it ends, its row changes in place.
    ringing = {**samples.W3, "callid": "live-1", "phone": "79161112233"}
    post(live, key, ringing)
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("+7 916 111-22-33")
    expect(rows.first).to_contain_text("Звонит")
    post(live, key, {**samples.W10, "callid": "live-1", "phone": "79161112233"})
    expect(rows.first).to_contain_text("Пропущенный")
    expect(rows).to_have_count(3)
    # An outbound call does not match this page's filter: it stays away.
    post(live, key, samples.W11)
    page.wait_for_timeout(500)
    expect(rows).to_have_count(3)

    screenshot(page, "calls-journal", tmp_path)
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    expect(rows).to_have_count(3)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(Path(tmp_path) / "calls-390.png"), full_page=True)
