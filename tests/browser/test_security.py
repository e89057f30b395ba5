"""The Content-Security-Policy in Chromium: every main page loads without a single violation,
and what runs on them still works: the copy button, htmx forms, search and the live stream."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.support import builders
from tests.support.databases import run_core
from tests.support.megafon import post_webhook as webhook

pytestmark = pytest.mark.browser


def watch_for_violations(page: Any) -> list[str]:
    """What Chromium says about the policy: each refused script, style, frame or media."""
    said: list[str] = []
    page.on(
        "console",
        lambda m: (
            ("Content Security Policy" in m.text or "Refused to" in m.text) and said.append(m.text)
        ),
    )
    return said


def test_the_main_pages_work_under_the_policy_without_a_violation(new_page, live):
    with ThreadPoolExecutor(1) as pool:
        ids = pool.submit(run_core, live.database_url, builders.call_center).result(timeout=60)
    page = new_page()
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    violations = watch_for_violations(page)

    response = page.goto("/login")
    assert response is not None
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.get_by_label("Email *").fill("anna@romashka.ru")
    page.get_by_label("Пароль *").fill(builders.PASSWORD)
    page.get_by_role("button", name="Войти").click()
    expect(page.get_by_role("heading", name="Клиенты")).to_be_visible()
    page.wait_for_function("window.htmx && document.body.getAttribute('sse-connect')")
    # htmx injected no <style> of its own (the policy would refuse it).
    assert page.evaluate("document.querySelectorAll('style').length") == 0

    # Search as you type (htmx): the list narrows without a reload.
    page.evaluate("window.stillTheSamePage = true")
    page.get_by_role("searchbox").fill("Мария")
    expect(page).to_have_url(re.compile(r"q=%D0%9C|q=Мария"))
    expect(page.get_by_role("link", name="Мария Иванова")).to_be_visible()
    assert page.evaluate("window.stillTheSamePage") is True

    # The card: a note added through htmx, and a PBX event arriving over the live stream.
    page.get_by_role("link", name="Мария Иванова").click()
    expect(page.locator("#dialog")).to_contain_text("Сообщений пока нет")
    page.wait_for_function("document.querySelector('#messages') && window.htmx")
    page.get_by_label("Заметка").fill("Перезвонить в пятницу")
    page.get_by_role("button", name="Добавить заметку").click()
    expect(page.locator("#messages").get_by_text("Перезвонить в пятницу")).to_have_count(1)
    webhook(live.url, ids["key"], cmd="event", type="ACCEPTED", callid="c1", user="ivanov")
    expect(page.locator("#messages")).to_contain_text("megafon_call_event ACCEPTED", timeout=3000)

    # Settings: generate the key and copy it with the copy button (static/app.js).
    page.get_by_role("link", name="Настройки").click()
    key = page.get_by_label("Ключ доступа к API")
    expect(key).not_to_have_value("")
    copy = page.get_by_role("button", name="Копировать").first
    copy.click()
    expect(page.get_by_role("button", name="Скопировано")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == key.input_value()

    # Employees: choosing «Звонки по API Megafon» brings the PBX field in through htmx.
    page.get_by_role("link", name="Сотрудники").click()
    page.get_by_role("link", name="Добавить сотрудника").click()
    page.get_by_label("Звонки по API Megafon").check()
    expect(
        page.get_by_label(re.compile("Логин, внутренний номер или прямой номер"))
    ).to_be_visible()

    page.get_by_role("link", name="Телефония", exact=True).click()
    page.get_by_role("link", name="Подключить").click()
    expect(page.get_by_label("API token")).to_be_visible()
    page.get_by_role("link", name="Бот", exact=True).click()
    expect(page.get_by_role("heading", name="Бот").first).to_be_visible()

    assert violations == []
