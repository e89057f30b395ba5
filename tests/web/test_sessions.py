"""Sessions can be ended (issue 11): a saved cookie stops working after «Выйти», a password
reset, a new role, deactivation or a long idle time; «Профиль» lists where the employee is
signed in and ends the other sessions; an open live stream ends with its session."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from core import clock
from core.db import Database
from core.tables import sessions as sessions_table
from tests.support import builders
from tests.support.databases import reset_schema, run_core
from tests.support.pages import page, text_of
from tests.support.servers import AppProcess, LiveBrowser, LiveServer, Stream
from web.app import create_app
from web.config import Settings

FIREFOX = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


def cookie_of(browser) -> str:
    return browser.cookies.get("crm_session")


def with_cookie(browser, cookie: str | None) -> None:
    """The browser now holds this session cookie (a saved copy, or another device's)."""
    browser.cookies.delete("crm_session")
    if cookie:
        browser.cookies.set("crm_session", cookie)


@pytest.fixture
def people(browser) -> dict[str, Any]:
    anna = browser.run(builders.admin, email="anna@romashka.ru")
    ivan = browser.run(builders.manager, anna["project_id"], email="ivan@romashka.ru")
    return {"anna": anna, "ivan": ivan}


def signed_in_as(browser, email: str) -> str:
    """Sign in on a fresh 'device' and return its cookie."""
    with_cookie(browser, None)
    browser.login(email)
    return cookie_of(browser)


def employee_form(employee: dict[str, Any], **changes: str) -> dict[str, str]:
    form = {"name": employee["name"], "email": employee["email"], "role": employee["role"]}
    return {**form, "call_method": "disabled", "pbx_user": "", "password": "", **changes}


def test_a_saved_cookie_stops_working_after_signing_out(browser, people):
    saved = signed_in_as(browser, "ivan@romashka.ru")
    assert browser.get("/clients").url.path == "/clients"
    browser.submit("/logout")
    with_cookie(browser, saved)  # someone kept a copy of the cookie
    response = browser.get("/clients")
    assert response.url.path == "/login"


def test_an_admins_password_reset_signs_the_employee_out_everywhere(browser, people):
    ivans = [signed_in_as(browser, "ivan@romashka.ru") for _ in range(2)]
    signed_in_as(browser, "anna@romashka.ru")
    saved = browser.submit(
        f"/employees/{people['ivan']['id']}",
        employee_form(people["ivan"], password="fresh-kitchen-77"),
    )
    assert saved.url.path == "/employees"
    for cookie in ivans:
        with_cookie(browser, cookie)
        assert browser.get("/clients").url.path == "/login"
    browser.login("ivan@romashka.ru", "fresh-kitchen-77")


def test_a_new_role_signs_the_employee_out(browser, people):
    ivan = signed_in_as(browser, "ivan@romashka.ru")
    signed_in_as(browser, "anna@romashka.ru")
    browser.submit(
        f"/employees/{people['ivan']['id']}", employee_form(people["ivan"], role="admin")
    )
    with_cookie(browser, ivan)
    assert browser.get("/clients").url.path == "/login"
    browser.login("ivan@romashka.ru")
    assert "Сотрудники" in text_of(browser.get("/clients"))  # signed in anew, as an admin


def test_other_changes_keep_the_employee_signed_in(browser, people):
    ivan = signed_in_as(browser, "ivan@romashka.ru")
    signed_in_as(browser, "anna@romashka.ru")
    browser.submit(
        f"/employees/{people['ivan']['id']}", employee_form(people["ivan"], name="Иван Петрович")
    )
    with_cookie(browser, ivan)
    assert browser.get("/clients").url.path == "/clients"


def test_deactivation_signs_the_employee_out(browser, people):
    ivan = signed_in_as(browser, "ivan@romashka.ru")
    signed_in_as(browser, "anna@romashka.ru")
    browser.submit(f"/employees/{people['ivan']['id']}/deactivate")
    browser.submit(f"/employees/{people['ivan']['id']}/activate")  # back, but not signed in
    with_cookie(browser, ivan)
    assert browser.get("/clients").url.path == "/login"


def test_an_idle_session_ends_and_a_used_one_goes_on(browser, people, monkeypatch):
    used = signed_in_as(browser, "ivan@romashka.ru")
    idle = signed_in_as(browser, "ivan@romashka.ru")
    real_now = clock.now
    monkeypatch.setattr(clock, "now", lambda: real_now() + timedelta(hours=8))
    with_cookie(browser, used)
    assert browser.get("/clients").url.path == "/clients"
    monkeypatch.setattr(clock, "now", lambda: real_now() + timedelta(hours=16))
    assert browser.get("/clients").url.path == "/clients"  # used 8 hours ago
    with_cookie(browser, idle)
    assert browser.get("/clients").url.path == "/login"  # unused for 16 hours (limit: 12)


def test_profile_lists_the_sessions_and_marks_this_device(browser, people):
    with_cookie(browser, None)
    browser.headers["user-agent"] = FIREFOX
    browser.login("ivan@romashka.ru")
    here = cookie_of(browser)
    signed_in_as(browser, "ivan@romashka.ru")  # another device (the test client's agent)
    with_cookie(browser, here)
    html = page(browser.get("/profile"))
    items = html.select("ul.sessions > li")
    assert len(items) == 2
    assert "Firefox 133, Linux" in items[0].get_text() and "Это устройство" in items[0].get_text()
    assert "Это устройство" not in items[1].get_text()
    assert items[1].select_one("button").get_text(strip=True) == "Завершить"
    assert (
        html.select_one(".topbar a[aria-current=page]")
        .get_text(" ", strip=True)
        .startswith(people["ivan"]["name"])
    )


def test_signing_out_on_all_devices_ends_every_other_session(browser, people):
    others = [signed_in_as(browser, "ivan@romashka.ru") for _ in range(2)]
    anna = signed_in_as(browser, "anna@romashka.ru")
    here = signed_in_as(browser, "ivan@romashka.ru")
    response = browser.submit("/profile/sessions/end-others")
    assert response.url.path == "/profile"
    assert "Завершено сеансов: 2." in text_of(response)
    assert len(page(response).select("ul.sessions > li")) == 1
    for cookie in others:
        with_cookie(browser, cookie)
        assert browser.get("/clients").url.path == "/login"
    for cookie in (here, anna):  # this device, and someone else, stay signed in
        with_cookie(browser, cookie)
        assert browser.get("/clients").url.path == "/clients"
    with_cookie(browser, here)
    again = browser.submit("/profile/sessions/end-others")
    assert "Других сеансов не было." in text_of(again)


def test_one_other_session_can_be_ended_but_not_someone_elses(browser, people):
    anna = signed_in_as(browser, "anna@romashka.ru")
    other = signed_in_as(browser, "ivan@romashka.ru")
    here = signed_in_as(browser, "ivan@romashka.ru")
    ids = browser.run(
        lambda db: db.fetch_all(sa.select(sessions_table.c.id).order_by(sessions_table.c.id))
    )
    annas_id, other_id = ids[0]["id"], ids[1]["id"]  # in the order they signed in
    assert browser.submit(f"/profile/sessions/{annas_id}/end").status_code == 404
    ended = browser.submit(f"/profile/sessions/{other_id}/end")
    assert ended.url.path == "/profile"
    for cookie, path in [(other, "/login"), (anna, "/clients"), (here, "/clients")]:
        with_cookie(browser, cookie)
        assert browser.get("/clients").url.path == path


def test_changing_ones_password_keeps_this_device_and_ends_the_others(browser, people):
    other = signed_in_as(browser, "ivan@romashka.ru")
    here = signed_in_as(browser, "ivan@romashka.ru")
    form = {"current_password": "wrong-one-1", "password": "new-kitchen-88"}
    wrong = browser.submit("/profile/password", {**form, "password_confirm": "new-kitchen-88"})
    assert wrong.status_code == 422
    assert page(wrong).select_one("#e-current_password").get_text() == "Неверный текущий пароль."
    mismatch = {**form, "current_password": builders.PASSWORD, "password_confirm": "other-99"}
    assert browser.submit("/profile/password", mismatch).status_code == 422
    common = {"current_password": builders.PASSWORD, "password": "qwerty123"}
    weak = browser.submit("/profile/password", {**common, "password_confirm": "qwerty123"})
    assert weak.status_code == 422 and page(weak).select_one("#e-password")
    with_cookie(browser, other)
    assert browser.get("/clients").url.path == "/clients"  # nothing changed so far

    with_cookie(browser, here)
    good = {**mismatch, "password_confirm": "new-kitchen-88"}
    done = browser.submit("/profile/password", good)
    assert done.url.path == "/profile"
    assert "Пароль изменён. Вход на других устройствах завершён." in text_of(done)
    assert browser.get("/clients").url.path == "/clients"
    with_cookie(browser, other)
    assert browser.get("/clients").url.path == "/login"
    browser.login("ivan@romashka.ru", "new-kitchen-88")


def test_the_cookie_holds_only_a_token_and_the_database_only_its_hash(browser, people):
    cookie = signed_in_as(browser, "ivan@romashka.ru")
    payload = cookie.split(".")[0]
    content = json.loads(base64.b64decode(payload + "=" * (-len(payload) % 4)))
    assert list(content) == ["session"]
    token = content["session"]
    [row] = browser.run(lambda db: db.fetch_all(sa.select(sessions_table)))
    assert row["user_id"] == people["ivan"]["id"]
    assert token not in str(row) and row["token_hash"] == hashlib.sha256(token.encode()).hexdigest()


# Live streams, over real HTTP.


async def anna_and_ivan(db: Database) -> dict[str, Any]:
    anna = await builders.admin(db, email="anna@romashka.ru")
    ivan = await builders.manager(db, anna["project_id"], email="ivan@romashka.ru")
    return {"anna": anna, "ivan": ivan}


def serve(database_url: str, session_check: float) -> Iterator[tuple[LiveServer, dict, str]]:
    settings = Settings(
        database_url=database_url,
        secret_key="live",
        cheap_passwords=True,
        sse_ping=1,
        session_check=session_check,
    )

    with LiveServer(create_app(settings)) as server:
        yield server, run_core(database_url, anna_and_ivan), database_url


@pytest.fixture
def live(database_url: str) -> Iterator[tuple[LiveServer, dict, str]]:
    """Streams re-check their session only every 30 s: what ends them sooner is the
    announcement that their session has ended."""
    yield from serve(database_url, session_check=30)


@pytest.fixture
def live_rechecking(database_url: str) -> Iterator[tuple[LiveServer, dict, str]]:
    yield from serve(database_url, session_check=1)


def test_a_deactivated_employees_open_stream_ends_within_seconds(live):
    server, people, _url = live
    with (
        LiveBrowser(base_url=server.url, follow_redirects=True, timeout=15) as ivan,
        LiveBrowser(base_url=server.url, follow_redirects=True, timeout=15) as anna,
    ):
        ivan.login("ivan@romashka.ru")
        anna.login("anna@romashka.ru")
        with Stream(ivan, "/events") as stream, Stream(anna, "/events") as annas:
            assert stream.status_code == 200
            assert stream.quiet(0.5) == []  # open, nothing to say
            anna.submit(f"/employees/{people['ivan']['id']}/deactivate")
            # Long before its 30 s re-check, the page is told to reload (onto the sign-in
            # page), and the stream ends.
            assert stream.next(timeout=10).event == "reload"
            assert stream.next() is None
            assert annas.quiet(1.5) == [] and annas.error is None  # Anna's goes on
        again = Stream(ivan, "/events")
        again.close()
        assert again.status_code == 401  # the browser's reconnection is refused


def test_a_stream_ends_even_when_nobody_announced_the_end(live_rechecking):
    """The session's row disappears without the announcement (a lost notification): the
    stream's own re-check every `session_check` seconds (1 here) ends it."""
    server, _people, database_url = live_rechecking
    with LiveBrowser(base_url=server.url, follow_redirects=True, timeout=15) as ivan:
        ivan.login("ivan@romashka.ru")
        with Stream(ivan, "/events") as stream:
            assert stream.status_code == 200
            run_core(database_url, delete_sessions)
            assert stream.next(timeout=10).event == "reload"
            assert stream.next() is None


async def delete_sessions(db: Database) -> None:
    await db.execute(sa.delete(sessions_table))


def test_signing_out_ends_the_streams_of_that_session_only(live):
    server, _people, _url = live
    with (
        LiveBrowser(base_url=server.url, follow_redirects=True, timeout=15) as here,
        LiveBrowser(base_url=server.url, follow_redirects=True, timeout=15) as there,
    ):
        here.login("ivan@romashka.ru")
        there.login("ivan@romashka.ru")
        with Stream(here, "/events") as mine, Stream(there, "/events") as other:
            here.submit("/logout")
            assert mine.next(timeout=10).event == "reload"
            assert mine.next() is None
            assert other.quiet(1.5) == [] and other.error is None


REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.mark.parametrize("channel", ["postgresql", "redis"])
def test_a_stream_held_by_another_process_ends_with_its_session(channel, tmp_path, pg_database):
    """Two `python -m web serve` processes: the admin deactivates Ivan through one, and Ivan's
    stream, held by the other, ends at once. Its own re-check would take 15 s here."""
    if channel == "postgresql":
        if not pg_database:
            pytest.skip("TEST_DATABASE_URL is not set (CI sets it)")
        reset_schema(pg_database)
        url, env = pg_database, {}
    else:
        url, env = f"sqlite:///{tmp_path}/crm.sqlite3", {"REDIS_URL": REDIS_URL}
    env["SESSION_CHECK"] = "60"
    with AppProcess(url, **env) as one, AppProcess(url, **env) as two:
        ivan_id = run_core(url, anna_and_ivan)["ivan"]["id"]
        with (
            LiveBrowser(base_url=one.url, follow_redirects=True, timeout=15) as anna,
            LiveBrowser(base_url=two.url, follow_redirects=True, timeout=15) as ivan,
        ):
            anna.login("anna@romashka.ru")
            ivan.login("ivan@romashka.ru")
            with Stream(ivan, "/events") as stream:
                assert stream.status_code == 200
                anna.submit(f"/employees/{ivan_id}/deactivate")
                assert stream.next(timeout=10).event == "reload"
                assert stream.next() is None
