"""Too many wrong passwords: the sign-in page says so, and when to try again (issue 11)."""

import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from playwright.sync_api import expect

from tests.support import builders
from tests.support.databases import run_core

pytestmark = pytest.mark.browser


def test_the_sign_in_page_says_when_to_try_again_after_too_many_failures(new_page, live):
    with ThreadPoolExecutor(1) as pool:
        anna = pool.submit(run_core, live.database_url, builders.admin).result(timeout=60)
    page = new_page()
    page.goto("/login")
    for _ in range(5):
        page.get_by_label("Email").fill(anna["email"])
        page.get_by_label("Пароль").fill("wrong-password")
        page.get_by_role("button", name="Войти").click()
        expect(page.get_by_role("alert")).to_have_text("Неверный email или пароль.")
    page.get_by_label("Пароль").fill(builders.PASSWORD)
    page.get_by_role("button", name="Войти").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Слишком много неудачных попыток входа.")
    expect(alert).to_contain_text(re.compile(r"Попробуйте ещё раз через \d+ с\."))
    expect(page.get_by_label("Email")).to_have_value(anna["email"])
