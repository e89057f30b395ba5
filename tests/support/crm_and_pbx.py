"""The CRM and our PBX simulator, each a real server on 127.0.0.1, and the people and the client
of one project (the pair `tests/web/test_calls_from_crm.py` and the queue's tests share): for tests
that click the handset and get the PBX's webhooks back over HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from core import dialogs, projects
from core.db import Database
from tests.support import builders
from tests.support.databases import run_core
from tests.support.servers import LiveBrowser, LiveServer
from web.app import create_app
from web.config import Settings
from web.pbx_simulator import SimulatorConfig, create_simulator

TOKEN = "pbx-secret-token-1234"


def eventually(check: Callable[[], Any], seconds: float = 10) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("not within the deadline")
        time.sleep(0.05)


class Pair:
    """The CRM and the PBX, each a real server, and the people and clients of one project."""

    def __init__(self, crm: LiveServer, sim: LiveServer, url: str, key: str, ids: dict) -> None:
        self.crm, self.sim, self.url, self.key, self.ids = crm, sim, url, key, ids
        self.browsers: list[LiveBrowser] = []

    def browser(self, email: str) -> LiveBrowser:
        client = LiveBrowser(base_url=self.crm.url, follow_redirects=True, timeout=15)
        self.browsers.append(client)
        client.login(email)
        return client

    def pbx(self, method: str, path: str, **kwargs: Any) -> Any:
        return httpx.request(method, self.sim.url + path, timeout=10, **kwargs).json()

    def dialog(self, client_id: int) -> list[str]:
        page = run_core(self.url, dialogs.dialog, self.ids["project"], client_id)
        return [m["text"] for m in page.messages]

    def connect(self, domain: str | None = None, token: str = TOKEN) -> None:
        async def save(db: Database) -> None:
            from core.telephony import connection

            await connection.save(
                db, self.ids["project"], token, domain or self.sim.url, allow_private=True
            )

        run_core(self.url, save)


@pytest.fixture
def pair(database_url: str) -> Iterator[Pair]:
    settings = Settings(
        database_url=database_url,
        secret_key="e2e",
        cheap_passwords=True,
        pbx_timeout=1.0,
        pbx_allow_private=True,
    )
    with LiveServer(create_app(settings)) as crm:

        async def people(db: Database) -> tuple[str, dict]:
            admin = await builders.admin(db, email="anna@romashka.ru")
            project = admin["project_id"]
            key = await projects.generate_api_key(db, project)
            manager = await builders.manager(
                db, project, email="ivan@romashka.ru", call_method="megafon_api", pbx_user="ivanov"
            )
            client = await builders.client(db, project, phone="+7 926 555-01-01")
            return key, {"project": project, "manager": manager["id"], "client": client["id"]}

        key, ids = run_core(database_url, people)
        config = SimulatorConfig(
            api_key=TOKEN, crm_url=crm.url + "/megafon_webhook", crm_key=key, step_delay=0.05
        )
        with LiveServer(create_simulator(config)) as sim:
            servers = Pair(crm, sim, database_url, key, ids)
            yield servers
            for browser in servers.browsers:
                browser.close()
