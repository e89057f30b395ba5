"""A call in the client's dialog, in Chromium: an open card watches the call ring, be answered
and end, in one item that changes in place without a reload; at phone width the card does not
scroll sideways and the dialog comes before the variables."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from playwright.sync_api import expect

from core import variables
from tests.support import builders
from tests.support.chromium import screenshot
from tests.support.databases import run_core
from tests.support.megafon import RECORD
from tests.support.megafon import post_webhook as webhook

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}


def people(url: str) -> dict[str, Any]:
    # Playwright's sync API holds this thread's event loop: set up data from another thread.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run_core, url, builders.call_center).result(timeout=60)


def open_card(page: Any) -> None:
    page.goto("/login")
    page.get_by_label("Email *").fill("anna@romashka.ru")
    page.get_by_label("Пароль *").fill(builders.PASSWORD)
    page.get_by_role("button", name="Войти").click()
    page.get_by_role("link", name="Мария Иванова").click()
    expect(page.locator("#dialog")).to_contain_text("Сообщений пока нет")
    page.wait_for_function("document.querySelector('#messages') && window.htmx")


def test_an_open_card_watches_a_call_ring_talk_and_end(new_page, live, tmp_path):
    ids = people(live.database_url)
    page = new_page()
    open_card(page)
    page.evaluate("window.stillTheSamePage = true")

    def send(**fields: str) -> None:
        webhook(live.url, ids["key"], callid="c1", user="ivanov", **fields)

    send(cmd="event", type="INCOMING")
    item = page.locator("#messages > li.call-item")
    expect(item).to_have_attribute("data-stage", "ringing")
    expect(item.locator(".badge")).to_have_text("Звонит")
    expect(item.locator(".badge")).to_have_class(re.compile(r"\btone-live\b"))
    expect(page.locator("#dialog-empty")).to_have_count(0)

    send(cmd="event", type="ACCEPTED")
    expect(item).to_have_attribute("data-stage", "talking")
    expect(item.locator(".badge")).to_have_text("Разговор")
    expect(item.locator(".call-who")).to_have_text("Иван Петров")
    expect(item.locator(".call-line")).to_have_text([re.compile("megafon_call_event ACCEPTED")])
    screenshot(page, "call-in-dialog-talking", tmp_path)

    send(cmd="event", type="COMPLETED")
    send(cmd="history", type="in", status="Success", duration="184", link=RECORD)
    expect(item.locator(".badge")).to_have_text("Успешный")
    expect(item.locator(".badge")).to_have_class(re.compile(r"\btone-success\b"))
    expect(item).to_have_attribute("data-stage", "ended")
    expect(item).to_contain_text("Разговор: 3:04")
    expect(item.locator("audio")).to_have_attribute("src", RECORD)
    expect(item.locator(".call-line")).to_have_text(
        [
            re.compile("megafon_call_event ACCEPTED"),
            re.compile("megafon_call_event COMPLETED"),
            re.compile("megafon_call_status Success"),
        ]
    )
    expect(page.locator("#messages > li")).to_have_count(1)  # one item for the whole call
    expect(page.locator("#variables")).to_contain_text("megafon_record_link")

    page.reload()  # the page renders the very item the stream did
    expect(page.locator("#messages > li.call-item .badge")).to_have_text("Успешный")
    expect(page.locator("#messages > li")).to_have_count(1)
    screenshot(page, "call-in-dialog", tmp_path)


def test_the_card_at_phone_width_puts_the_dialog_first_without_sideways_scroll(
    new_page, live, tmp_path
):
    ids = people(live.database_url)
    bot_said = {f"anketa_{n}": f"ответ {n}" for n in range(4)}  # what a bot saved about her
    with ThreadPoolExecutor(1) as pool:
        args = (live.database_url, variables.set_variables, ids["project"], ids["maria"], bot_said)
        pool.submit(run_core, *args).result(timeout=60)
    for n in range(3):  # calls, and more variables than the card shows at once
        for step in ("INCOMING", "ACCEPTED", "COMPLETED"):
            webhook(live.url, ids["key"], cmd="event", type=step, callid=f"p{n}", user="ivanov")
        webhook(
            live.url,
            ids["key"],
            cmd="history",
            type="in",
            status="Success",
            callid=f"p{n}",
            duration="42",
            link=RECORD,
        )
    page = new_page()
    page.set_viewport_size(PHONE)
    page.goto("/login")
    page.get_by_label("Email *").fill("anna@romashka.ru")
    page.get_by_label("Пароль *").fill(builders.PASSWORD)
    page.get_by_role("button", name="Войти").click()
    page.goto(f"/clients/{ids['maria']}")
    expect(page.locator("#messages > li.call-item")).to_have_count(3)
    width = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert width == 0

    def top(selector: str) -> float:
        return float(page.locator(selector).first.bounding_box()["y"])

    assert top("#dialog") < top("#note-form") < top("#variables")
    # Five variables show; the rest open under «Показать все», without a script of ours.
    shown = page.locator("#variables .var")
    expect(shown.filter(visible=True)).to_have_count(5)
    more = page.locator("#variables-more > summary")
    expect(more).to_have_text(re.compile(r"Показать все: \d+"))
    more.click()
    expect(shown.filter(visible=True)).to_have_count(shown.count())
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") == 0
    screenshot(page, "call-in-dialog-phone", tmp_path)
