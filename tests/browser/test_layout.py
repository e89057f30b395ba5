"""Every page reads at phone width (390 px) without sideways scrolling, and a client's card puts
the dialog before the calls and variables, on the demo project with a client who calls a lot."""

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from playwright.sync_api import expect

from core import demo, projects
from core.db import Database
from core.passwords import Passwords
from tests.support import megafon
from tests.support.chromium import screenshot

pytestmark = pytest.mark.browser
PHONE, DESKTOP = {"width": 390, "height": 844}, {"width": 1280, "height": 860}
PAGES = [
    "/clients",
    "/calls",
    "/missed",
    "/missed/closed",
    "/analytics",
    "/clients/new",
    "/employees",
    "/employees/new",
    "/employees/pbx",
    "/bot",
    "/telephony",
    "/telephony/megafon",
    "/settings",
    "/profile",
    "/audit",
    "/webhooks",
]
DATE = re.compile(r"\d\d\.\d\d\.\d{4} \d\d:\d\d")
OUTCOMES = ["Success", "Busy", "Missed", "NotAvailable", "Cancel"]


async def demo_project(url):
    async with Database(url) as db:
        email, password = await demo.fill(db, Passwords(cheap=True))
        project = await projects.project_by_name(db, "Демо-проект")
        return email, password, project["api_key"]


def calls_a_lot(base_url, key):
    """Мария calls 30 times: the card collects 30 calls, 90 messages and the PBX's variables."""
    for n in range(30):
        callid = f"layout-{n}"
        for event in ("INCOMING", "ACCEPTED", "COMPLETED"):
            megafon.post_webhook(base_url, key, cmd="event", type=event, callid=callid, user="701")
        megafon.post_webhook(
            base_url,
            key,
            cmd="history",
            type="in",
            callid=callid,
            status=OUTCOMES[n % len(OUTCOMES)],
            user="701",
            start=f"20261130T10{n:02d}00Z",
            duration="42",
            link=megafon.RECORD,
        )


def overflow(page):
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def each_call_once(page):
    """The calls are items of the dialog, each once (its newest 100 messages hold most of the
    30 calls: the missed ones add messages of their own)."""
    items = page.locator("#messages > li.call-item")
    expect(items.nth(24)).to_be_attached()
    ids = items.evaluate_all("items => items.map(i => i.id)")
    assert len(ids) == len(set(ids)) <= 30


def top(page, selector):
    return page.locator(selector).bounding_box()["y"]


@pytest.fixture
def signed_in(new_page, live):
    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API holds this thread's loop
        email, password, key = pool.submit(asyncio.run, demo_project(live.database_url)).result(
            timeout=60
        )
    calls_a_lot(live.url, key)
    page = new_page()
    page.goto("/login")
    page.get_by_label("Email *").fill(email)
    page.get_by_label("Пароль *").fill(password)
    page.get_by_role("button", name="Войти").click()
    expect(page.get_by_role("heading", name="Клиенты")).to_be_visible()
    return page


def test_every_page_fits_a_phone_and_the_card_shows_the_dialog_first(signed_in, tmp_path):
    page = signed_in
    page.set_viewport_size(PHONE)
    wider = {}
    for path in PAGES:
        page.goto(path)
        wider[path] = overflow(page)
    assert wider == dict.fromkeys(PAGES, 0)

    page.goto("/clients")
    # A client's name (a new caller's is the number), phone and type stay readable on a phone.
    maria = page.get_by_role("row").filter(has=page.get_by_role("link", name="+7 926 555-01-01"))
    cells = maria.get_by_role("cell")
    expect(cells).to_have_text(["+7 926 555-01-01", "+7 926 555-01-01", "WhatsApp", "—", DATE])
    for n in range(5):
        box = cells.nth(n).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    maria.get_by_role("link").click()
    each_call_once(page)
    assert overflow(page) == 0
    assert top(page, "#dialog") < top(page, "#note-form") < top(page, "#variables")
    screenshot(page, "client-card-phone", tmp_path)

    # The demo's admin calls through the PBX API, which is not connected: the long explanation
    # takes its own line under the number and never widens the page.
    page.get_by_role("button", name="Позвонить").click()
    status = page.locator(".call-status")
    expect(status).to_contain_text("Телефония МегаФон не подключена")
    expect(status).to_have_class(re.compile(r"\btone-failed\b"))  # red, as a failure
    assert overflow(page) == 0
    card = page.locator(".client-card").bounding_box()
    box = status.bounding_box()
    assert box["x"] + box["width"] <= card["x"] + card["width"]


def test_on_a_wide_screen_the_calls_and_variables_do_not_stretch_the_card(signed_in):
    page = signed_in
    page.set_viewport_size(DESKTOP)
    page.get_by_role("link", name="+7 926 555-01-01").click()
    each_call_once(page)
    dialog, side = page.locator(".dialog-panel").bounding_box(), page.locator(".client-side")
    assert side.bounding_box()["x"] > dialog["x"] + dialog["width"]  # beside the dialog
    # 30 calls scroll inside the dialog; the column beside it lists none and stays within
    # about two screens.
    dialog_box = page.locator("#dialog")
    assert dialog_box.evaluate("d => d.scrollHeight > d.clientHeight")
    expect(side.locator(".call-item, audio")).to_have_count(0)
    assert side.bounding_box()["height"] < 2 * DESKTOP["height"]
    assert overflow(page) == 0
