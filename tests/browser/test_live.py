"""Live updates in Chromium: the open card shows a webhook's message without a reload, the
employee the PBX rings sees a popup on any page, and a server restart loses nothing."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.support import builders
from tests.support.chromium import open_page, screenshot
from tests.support.databases import run_core
from tests.support.megafon import post_webhook as webhook
from tests.support.servers import AppProcess, free_port

pytestmark = pytest.mark.browser


def people(url: str) -> dict[str, Any]:
    # Playwright's sync API holds this thread's event loop: set up data from another thread.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run_core, url, builders.call_center).result(timeout=60)


def sign_in(page: Any, email: str) -> None:
    page.goto("/login")
    page.get_by_label("Email *").fill(email)
    page.get_by_label("Пароль *").fill(builders.PASSWORD)
    page.get_by_role("button", name="Войти").click()
    expect(page.get_by_role("heading", name="Клиенты")).to_be_visible()


def streams_of(page: Any) -> list[str]:
    opened: list[str] = []
    page.on("request", lambda r: "/events" in r.url and opened.append(r.url))
    return opened


def test_an_open_card_shows_the_pbx_s_events_without_a_reload(new_page, live, tmp_path):
    ids = people(live.database_url)
    page = new_page()
    sign_in(page, "anna@romashka.ru")
    opened = streams_of(page)
    page.get_by_role("link", name="Мария Иванова").click()
    expect(page.locator("#dialog")).to_contain_text("Сообщений пока нет")
    page.evaluate("window.stillTheSamePage = true")
    page.wait_for_function("document.querySelector('#messages') && window.htmx")

    webhook(live.url, ids["key"], cmd="event", type="ACCEPTED", callid="c1", user="ivanov")
    messages = page.locator("#messages")
    expect(messages).to_contain_text("megafon_call_event ACCEPTED", timeout=2000)
    expect(page.locator("#messages .call-item")).to_contain_text("Разговор")
    expect(page.locator("#variables")).to_contain_text("megafon_call_id")
    expect(page.locator("#dialog-empty")).to_have_count(0)

    webhook(live.url, ids["key"], cmd="event", type="COMPLETED", callid="c1", user="ivanov")
    webhook(live.url, ids["key"], cmd="history", type="in", status="Success", callid="c1")
    expect(messages).to_contain_text("megafon_call_status Success", timeout=2000)
    expect(page.locator("#messages .call-item")).to_contain_text("Успешный")

    # A note from this very tab comes back over the stream too: it is shown once.
    page.get_by_label("Заметка").fill("Перезвонить в пятницу")
    page.get_by_role("button", name="Добавить заметку").click()
    expect(messages.get_by_text("Перезвонить в пятницу")).to_have_count(1)
    page.wait_for_timeout(500)
    expect(messages.get_by_text("Перезвонить в пятницу")).to_have_count(1)
    # The call's item with its three notifications inside, and the note.
    expect(messages.locator("li")).to_have_count(5)
    expect(messages.locator("> li")).to_have_count(2)

    assert page.evaluate("window.stillTheSamePage") is True  # no reload
    assert len(opened) == 1  # one stream for the tab
    screenshot(page, "live-card", tmp_path)


def test_the_rung_employee_sees_the_popup_on_another_page_until_answered(new_page, live, tmp_path):
    ids = people(live.database_url)
    ivan = new_page()
    sign_in(ivan, "ivan@romashka.ru")
    anna = new_page()
    sign_in(anna, "anna@romashka.ru")
    anna.goto("/employees")
    for page in (ivan, anna):
        page.wait_for_function("window.htmx && document.body.getAttribute('sse-connect')")
    ivan.wait_for_timeout(300)  # the streams are open

    webhook(live.url, ids["key"], cmd="event", type="INCOMING", callid="c7", user="ivanov")
    popup = ivan.locator(".call-popup")
    expect(popup).to_be_visible(timeout=2000)
    expect(popup).to_contain_text("Входящий звонок")
    expect(popup).to_contain_text("Мария Иванова")
    expect(popup).to_contain_text("+7 926 555-01-01")
    expect(popup.get_by_role("link", name="Открыть карточку")).to_have_attribute(
        "href", f"/clients/{ids['maria']}"
    )
    ivan.wait_for_timeout(300)  # its slide-in is over
    screenshot(ivan, "incoming-call-popup", tmp_path)
    expect(anna.locator(".call-popup")).to_have_count(0)  # not her phone

    # Going to another page while it rings: the popup is still there.
    ivan.get_by_role("link", name="Клиенты").click()
    expect(ivan.locator(".call-popup")).to_be_visible()

    webhook(live.url, ids["key"], cmd="event", type="ACCEPTED", callid="c7", user="ivanov")
    expect(ivan.locator(".call-popup")).to_have_count(0, timeout=2000)

    # A caller nobody knows rings everyone, as a new client; the × closes it by hand.
    webhook(live.url, ids["key"], cmd="event", type="INCOMING", callid="c8", phone="79035550000")
    for page in (ivan, anna):
        expect(page.locator(".call-popup")).to_contain_text("новый клиент", timeout=2000)
    anna.get_by_role("button", name="Закрыть").click()
    expect(anna.locator(".call-popup")).to_have_count(0)
    webhook(live.url, ids["key"], cmd="event", type="CANCELLED", callid="c8", phone="79035550000")
    expect(ivan.locator(".call-popup")).to_have_count(0, timeout=2000)


def test_an_open_card_catches_up_after_a_server_restart(chromium, tmp_path: Path):
    url = f"sqlite:///{tmp_path}/crm.sqlite3"
    port = free_port()
    first = AppProcess(url, port).__enter__()
    context = None
    try:
        ids = people(url)
        page = open_page(chromium, first.url)
        context = page.context
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        sign_in(page, "anna@romashka.ru")
        page.goto(f"/clients/{ids['maria']}")
        page.evaluate("window.stillTheSamePage = true")
        webhook(first.url, ids["key"], cmd="event", type="ACCEPTED", callid="c1")
        expect(page.locator("#messages")).to_contain_text("megafon_call_event ACCEPTED")

        first.stop()
        expect(page.locator("#live-offline")).to_be_visible()
        with AppProcess(url, port) as second:
            webhook(second.url, ids["key"], cmd="event", type="COMPLETED", callid="c1")
            webhook(second.url, ids["key"], cmd="history", type="in", status="Missed", callid="c1")
            messages = page.locator("#messages")
            expect(messages).to_contain_text("megafon_call_status Missed", timeout=15_000)
            expect(messages.locator("> li.call-item")).to_have_count(1)  # nothing twice
            expect(messages.locator(".call-line", has_text="megafon_call_")).to_have_text(
                [
                    re.compile("megafon_call_event ACCEPTED"),
                    re.compile("megafon_call_event COMPLETED"),
                    re.compile("megafon_call_status Missed"),
                ]
            )  # nothing lost
            expect(page.locator("#live-offline")).to_be_hidden()
            assert page.evaluate("window.stillTheSamePage") is True
            context.close()
            context = None
        assert errors == []
    finally:
        if context is not None:
            context.close()
        first.stop()
