"""«Сверить с АТС» in Chromium: a call whose webhooks never reached the CRM is read back from
the PBX's history when the admin presses the button, and shows in the client's dialog marked."""

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from playwright.sync_api import expect

from core import projects
from core.db import Database
from core.telephony import connection
from tests.support import builders
from tests.support.chromium import screenshot
from tests.support.servers import LiveServer, free_port
from web.pbx_simulator import SimulatorConfig, create_simulator

pytestmark = pytest.mark.browser
TOKEN = "sim-api-token-2468"


async def project_with_client(url: str, pbx_url: str) -> int:
    async with Database(url) as db:
        admin = await builders.admin(db, email="anna@romashka.ru", name="Анна Админова")
        await projects.generate_api_key(db, admin["project_id"])
        client = await builders.client(
            db, admin["project_id"], name="Мария Иванова", phone="+7 926 555-01-01"
        )
        await connection.save(db, admin["project_id"], TOKEN, pbx_url, allow_private=True)
        return int(client["id"])


def test_reconcile_button_restores_a_call_the_crm_never_heard_of(new_page, live, tmp_path):
    # The PBX posts its webhooks to an address where nobody listens: the CRM hears nothing.
    nowhere = f"http://127.0.0.1:{free_port()}/megafon_webhook"
    config = SimulatorConfig(api_key=TOKEN, crm_url=nowhere, crm_key="k", step_delay=0.02)
    with LiveServer(create_simulator(config)) as pbx:
        with ThreadPoolExecutor(1) as pool:
            client_id = pool.submit(
                asyncio.run, project_with_client(live.database_url, pbx.url)
            ).result(timeout=60)
        played = httpx.post(
            pbx.url + "/simulator/scenario", data={"scenario": "answered", "phone": "79265550101"}
        )
        assert played.status_code == 200
        deadline = time.monotonic() + 10
        while not any(
            sent["fields"]["cmd"] == "history" and sent["status"] is None
            for sent in httpx.get(pbx.url + "/simulator/log").json()
        ):  # its history was sent, and nobody took it
            assert time.monotonic() < deadline, "the simulator did not play the call"
            time.sleep(0.05)

        page = new_page()
        page.goto("/login")
        page.get_by_label("Email *").fill("anna@romashka.ru")
        page.get_by_label("Пароль *").fill(builders.PASSWORD)
        page.get_by_role("button", name="Войти").click()

        page.goto(f"/clients/{client_id}")
        expect(page.get_by_text("megafon_call_status Success")).to_have_count(0)

        page.goto("/telephony/megafon")
        health = page.locator("#pbx-health")
        expect(health).to_contain_text("Последний вебхук ещё не было")
        page.get_by_role("button", name="Сверить с АТС").click()
        expect(health).to_contain_text("Сверка завершена: прочитано звонков: 1, восстановлено: 1.")
        expect(health.locator("[data-health=restored]")).to_have_text("звонков: 1")
        screenshot(page, "telephony-reconcile", tmp_path)

        page.goto(f"/clients/{client_id}")
        line = page.locator(".call-line", has_text="megafon_call_status Success")
        expect(line).to_have_count(1)
        expect(line.locator(".restored-mark")).to_have_text("восстановлено из истории АТС")
        screenshot(page, "dialog-restored-call", tmp_path)

        # The newcomer watches the simulator too: at phone width its page fits (long callids
        # and keys wrap), and it says in words why the CRM did not take the webhooks.
        page.set_viewport_size({"width": 390, "height": 844})
        page.goto(pbx.url + "/")
        expect(page.locator("body")).to_contain_text("CRM недоступна: не удалось подключиться")
        assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") == 0
