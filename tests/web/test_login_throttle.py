"""Sign-in cannot be brute-forced nor used to exhaust the server (issue 11): failed sign-ins
are throttled per account and per address, password checks run a few at a time, and common
passwords are refused."""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from core import employees
from core.passwords import Passwords, password_problem
from tests.support import builders
from tests.support.pages import Browser, page, text_of
from tests.support.servers import LiveServer
from web.app import create_app
from web.config import Settings

REDIS_URL = "redis://127.0.0.1:6379/0"


def open_browser(settings: Settings, address: str = "203.0.113.1", **changes: Any) -> Browser:
    app = create_app(dataclasses.replace(settings, **changes))
    return Browser(app, follow_redirects=True, client=(address, 50000))


def sign_in(browser: Browser, email: str, password: str, address: str | None = None) -> Any:
    """Sign in, from another client address when given (as uvicorn reports it)."""
    transport: Any = browser._transport
    usual = transport.client
    if address:
        transport.client = (address, 50000)
    try:
        return browser.submit("/login", {"email": email, "password": password})
    finally:
        transport.client = usual


def test_the_sixth_wrong_password_in_a_minute_is_refused_with_when_to_try_again(settings):
    with open_browser(settings) as browser:
        anna = browser.run(builders.admin)
        for _ in range(5):
            assert sign_in(browser, anna["email"], "wrong-password").status_code == 401
        refused = sign_in(browser, anna["email"].upper(), builders.PASSWORD)  # right, too late
        assert refused.status_code == 429
        assert 50 <= int(refused.headers["Retry-After"]) <= 60
        alert = page(refused).select_one("[role=alert]").get_text()
        assert alert.startswith("Слишком много неудачных попыток входа.")
        assert f"Попробуйте ещё раз через {refused.headers['Retry-After']} с." in alert
        assert page(refused).select_one("#f-email")["value"] == anna["email"].upper()
        # The account is throttled from any address, not only the one that failed.
        elsewhere = sign_in(browser, anna["email"], builders.PASSWORD, "198.51.100.7")
        assert elsewhere.status_code == 429
        assert "Retry-After" in elsewhere.headers


def test_one_address_is_throttled_across_accounts(settings):
    with open_browser(settings) as browser:
        project = browser.run(builders.admin)
        for n in range(5):
            response = sign_in(browser, f"nobody{n}@romashka.ru", "wrong-password")
            assert response.status_code == 401
        assert sign_in(browser, project["email"], builders.PASSWORD).status_code == 429
        # Someone else, elsewhere, still signs in.
        response = sign_in(browser, project["email"], builders.PASSWORD, "198.51.100.7")
        assert response.url.path == "/clients"


def test_after_the_wait_the_right_password_works_and_a_success_forgives_the_account(settings):
    with open_browser(settings, login_limits="3 per 2 seconds") as browser:
        anna = browser.run(builders.admin)
        for _ in range(3):
            assert sign_in(browser, anna["email"], "wrong-password").status_code == 401
        refused = sign_in(browser, anna["email"], builders.PASSWORD)
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= 2
        time.sleep(2.1)
        assert sign_in(browser, anna["email"], builders.PASSWORD).url.path == "/clients"
        browser.post("/logout", data={"csrftoken": browser.csrf_token()})
        # Three more failures fit again: the account's count started over at the success.
        for _ in range(2):
            assert sign_in(browser, anna["email"], "wrong-password").status_code == 401


def test_the_longer_limit_makes_repeated_bursts_wait_longer(settings):
    limits = "2 per 1 second;3 per 1 hour"
    with open_browser(settings, login_limits=limits) as browser:
        anna = browser.run(builders.admin)
        for _ in range(2):
            assert sign_in(browser, anna["email"], "wrong-password").status_code == 401
        time.sleep(1.1)
        assert sign_in(browser, anna["email"], "wrong-password").status_code == 401
        refused = sign_in(browser, anna["email"], builders.PASSWORD)
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) > 3500
        assert "Попробуйте ещё раз через 60 мин." in text_of(refused)


def test_with_redis_two_apps_share_the_counts(settings):
    prefix = f"test-login-{uuid.uuid4().hex}"
    shared = {"redis_url": REDIS_URL, "login_limits_prefix": prefix}
    with (
        open_browser(settings, **shared) as one,
        open_browser(settings, "198.51.100.7", **shared) as two,
    ):
        anna = one.run(builders.admin)
        for n in range(5):
            browser = one if n % 2 else two
            assert sign_in(browser, anna["email"], "wrong-password").status_code == 401
        assert sign_in(one, anna["email"], builders.PASSWORD).status_code == 429
        assert sign_in(two, anna["email"], builders.PASSWORD).status_code == 429
    # Another app without Redis counts on its own.
    with open_browser(settings, "198.51.100.9") as alone:
        assert sign_in(alone, anna["email"], builders.PASSWORD).url.path == "/clients"


def test_a_sign_in_that_waits_too_long_for_a_password_check_is_asked_to_retry(settings):
    with open_browser(settings, password_wait=0.0) as browser:
        anna = browser.run(builders.admin)
        passwords: Passwords = browser.passwords
        taken = [passwords._slots.acquire() for _ in range(settings.password_checks)]

        async def take_all() -> None:
            for acquire in taken:
                await acquire

        browser.portal.call(take_all)
        busy = sign_in(browser, anna["email"], builders.PASSWORD)
        assert busy.status_code == 503
        assert busy.headers["Retry-After"] == "5"
        assert "Попробуйте ещё раз через несколько секунд." in text_of(busy)
        for _ in taken:
            passwords._slots.release()
        assert sign_in(browser, anna["email"], builders.PASSWORD).url.path == "/clients"


def vm_hwm_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM in /proc/self/status")


def test_a_burst_of_wrong_sign_ins_keeps_memory_bounded_and_other_pages_fast(settings):
    """Real argon2 parameters (64 MB a check): 40 wrong sign-ins at once queue for two slots."""
    real = dataclasses.replace(settings, cheap_passwords=False, login_limits="1000/minute")
    with (
        LiveServer(create_app(real)) as server,
        httpx.Client(base_url=server.url, follow_redirects=True) as client,
    ):
        client.get("/login")
        token = client.cookies["csrftoken"]
        before = vm_hwm_kib()
        start = threading.Barrier(41)

        def wrong(n: int) -> int:
            with httpx.Client(base_url=server.url, cookies={"csrftoken": token}) as c:
                start.wait()
                data = {"email": f"x{n}@romashka.ru", "password": "wrong", "csrftoken": token}
                return c.post("/login", data=data, timeout=60).status_code

        with ThreadPoolExecutor(40) as pool:
            answers = [pool.submit(wrong, n) for n in range(40)]
            start.wait()
            time.sleep(0.3)  # the burst is in the queue now
            began = time.monotonic()
            assert client.get("/login").status_code == 200
            other_page = time.monotonic() - began
            codes = [a.result() for a in answers]
        growth_mb = (vm_hwm_kib() - before) / 1024
        print(f"peak RSS growth under the burst: {growth_mb:.0f} MB; other page {other_page:.2f} s")
        assert set(codes) <= {401, 503}
        assert codes.count(401) >= 20
        assert growth_mb < 300
        assert other_page < 3


def test_common_and_blank_passwords_are_refused():
    for password in ["        ", "password", "12345678", "qwerty123", "Password123"]:
        assert password_problem(password) is not None, password
    assert password_problem("        ") == "Пароль не может состоять только из пробелов."
    assert password_problem("qwertyuiop") == (
        "Это один из самых распространённых паролей: придумайте другой."
    )
    assert password_problem("kitchen-window-42") is None


def test_employee_forms_refuse_common_and_blank_passwords(browser):
    admin = browser.run(builders.admin)
    browser.login(admin["email"])
    form = {"name": "Иван", "email": "ivan@romashka.ru", "role": "manager", "call_method": ""}
    form["call_method"] = employees.CallMethod.DISABLED
    for password, message in [
        ("qwerty123", "Это один из самых распространённых паролей: придумайте другой."),
        ("          ", "Пароль не может состоять только из пробелов."),
    ]:
        response = browser.submit("/employees/new", {**form, "password": password})
        assert response.status_code == 422
        assert page(response).select_one("#e-password").get_text() == message
    manager = browser.run(builders.manager, admin["project_id"], email="petr@romashka.ru")
    reset = browser.submit(
        f"/employees/{manager['id']}",
        {**form, "email": "petr@romashka.ru", "password": "iloveyou"},
    )
    assert reset.status_code == 422
    assert "самых распространённых" in page(reset).select_one("#e-password").get_text()
