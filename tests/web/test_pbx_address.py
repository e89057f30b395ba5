"""Issue 11: the CRM sends nothing to internal addresses. With `PBX_ALLOW_PRIVATE` off, a
«Megafon domain» on 127.0.0.1 is refused when saved, and «Проверить подключение» to a name
that resolves there is refused before a byte is sent; with it on, the simulator answers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from core.telephony import connection
from tests.support import builders
from tests.support.pages import Browser, page, text_of
from tests.support.servers import LiveServer
from web.app import create_app
from web.config import Settings
from web.pbx_simulator import SimulatorConfig, create_simulator

TOKEN = "pbx-secret-token-1234"
REFUSED = "ведёт во внутреннюю сеть"


class Simulator:
    """Our PBX simulator on 127.0.0.1, with every path it was asked for."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.app = create_simulator(SimulatorConfig(api_key=TOKEN, step_delay=0.01))

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.asked.append(scope["path"])
        await self.app(scope, receive, send)


@pytest.fixture
def simulator() -> Iterator[tuple[Simulator, int]]:
    sim = Simulator()
    with LiveServer(sim) as server:
        yield sim, int(server.url.rsplit(":", 1)[1])


def admin_of(settings: Settings, allow_private: bool) -> tuple[Browser, int]:
    browser = Browser(
        create_app(replace(settings, pbx_allow_private=allow_private)), follow_redirects=True
    )
    browser.__enter__()
    admin = browser.run(builders.admin, email="anna@romashka.ru")
    browser.login("anna@romashka.ru")
    return browser, admin["project_id"]


@pytest.fixture
def guarded(settings: Settings) -> Iterator[tuple[Browser, int]]:
    browser, project = admin_of(settings, allow_private=False)
    yield browser, project
    browser.__exit__(None, None, None)


@pytest.fixture
def allowed(settings: Settings) -> Iterator[tuple[Browser, int]]:
    browser, project = admin_of(settings, allow_private=True)
    yield browser, project
    browser.__exit__(None, None, None)


def test_a_loopback_address_is_refused_when_saved(guarded, simulator):
    browser, project = guarded
    sim, port = simulator
    for domain in (f"http://127.0.0.1:{port}", f"https://[::1]:{port}", "https://10.1.2.3"):
        response = browser.submit("/telephony/megafon", {"token": TOKEN, "domain": domain})
        assert response.status_code == 422
        assert "не публичный адрес" in page(response).select_one("#e-domain").get_text()
    assert browser.run(connection.get, project) is None
    assert sim.asked == []


def test_checking_a_name_that_resolves_to_loopback_is_refused_before_any_request(
    guarded, simulator
):
    browser, project = guarded
    sim, port = simulator
    response = browser.submit(
        "/telephony/megafon", {"token": TOKEN, "domain": f"http://localhost:{port}"}
    )
    assert response.status_code == 200  # a name: only the connection can tell where it leads
    check = browser.htmx("POST", "/telephony/megafon/check")
    assert REFUSED in text_of(check) and "Подключение работает" not in text_of(check)
    assert "CRM обращается только к АТС с публичным адресом" in text_of(check)
    assert REFUSED in browser.run(connection.get, project)["check_result"]
    assert sim.asked == []


def test_an_internal_address_saved_before_is_refused_when_checked(guarded, simulator):
    browser, project = guarded
    sim, port = simulator
    browser.run(connection.save, project, TOKEN, f"http://127.0.0.1:{port}", allow_private=True)
    check = browser.htmx("POST", "/telephony/megafon/check")
    assert REFUSED in text_of(check)
    assert sim.asked == []


def test_with_pbx_allow_private_the_simulator_answers_as_before(allowed, simulator):
    browser, _ = allowed
    sim, port = simulator
    response = browser.submit(
        "/telephony/megafon", {"token": TOKEN, "domain": f"http://127.0.0.1:{port}"}
    )
    assert response.status_code == 200 and "Сервис Мегафон подключен" in text_of(response)
    check = browser.htmx("POST", "/telephony/megafon/check")
    assert "Подключение работает" in text_of(check)
    assert sim.asked  # it was asked for its employees
