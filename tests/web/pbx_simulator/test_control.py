"""The simulator's own controls: its page, scenario calls, the API's behaviour."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from bs4 import BeautifulSoup
from starlette.testclient import TestClient

from tests.support.simulator import (
    API_KEY,
    CapturingCrm,
    call_of,
    rest,
    steps,
    wait_for,
)
from web.pbx_simulator import SimulatorConfig, create_simulator
from web.pbx_simulator.config import default_users
from web.pbx_simulator.scenarios import SCENARIOS

SCRIPT = "<script>alert(1)</script>"


@pytest.fixture
def in_process() -> Iterator[TestClient]:
    """The simulator without a network: its calls would play only after a minute."""
    users = default_users()
    users[0]["name"] = SCRIPT
    config = SimulatorConfig(
        api_key="sim-key", crm_url=f"http://crm.example/{SCRIPT}", step_delay=60, users=users
    )
    with TestClient(create_simulator(config)) as client:
        yield client


def test_scenario_validation_and_the_page_form(pbx: httpx.Client) -> None:
    assert pbx.post("/simulator/scenario", data={"scenario": "nope"}).status_code == 400
    bad_phone = {"scenario": "answered", "phone": "+7916"}
    assert pbx.post("/simulator/scenario", data=bad_phone).status_code == 400
    from_page = pbx.post("/simulator/scenario", data={"scenario": "missed", "back": "1"})
    assert from_page.status_code == 303
    assert from_page.headers["location"].endswith("/")


def test_behaviour_delay_fail_status_and_outcome(pbx: httpx.Client, crm: CapturingCrm) -> None:
    slow = pbx.post("/simulator/behaviour", json={"delay": 1})
    assert slow.json() == {"delay": 1.0, "fail_status": 0, "outcome": "Success"}
    started = time.monotonic()
    assert rest(pbx).status_code == 200
    assert time.monotonic() - started >= 1.0

    pbx.post("/simulator/behaviour", data={"delay": "0", "fail_status": "502"})
    for response in (
        rest(pbx),
        pbx.get("/crmapi/v1/users", headers={"X-API-KEY": API_KEY}),
        pbx.post("/sys/crm_api.wcgp", data={"cmd": "accounts", "token": API_KEY}),
    ):
        assert (response.status_code, response.text) == (502, "502 Bad Gateway")

    busy = pbx.post("/simulator/behaviour", json={"fail_status": 0, "outcome": "Busy"})
    assert busy.json() == {"delay": 0.0, "fail_status": 0, "outcome": "Busy"}
    callid = rest(pbx).json()["callid"]
    sent = call_of(crm, callid, 3)
    assert steps(sent) == [("event", "OUTGOING"), ("event", "CANCELLED"), ("history", "Busy")]
    assert pbx.post("/simulator/behaviour", json={"outcome": "Maybe"}).status_code == 400


def test_behaviour_errors_from_the_page_come_back_to_it(in_process: TestClient) -> None:
    for wrong, message in [
        ({"delay": "soon"}, "delay и fail_status — числа"),
        ({"delay": "601"}, "delay 0…600 с"),
        ({"fail_status": "200"}, "fail_status: 0 или 400…599"),
    ]:
        page = in_process.post("/simulator/behaviour", data={**wrong, "back": "1"})
        alert = BeautifulSoup(page.text, "html.parser").find(role="alert")
        assert alert is not None and message in alert.get_text(), wrong
    unchanged = in_process.post("/simulator/behaviour", json={})
    assert unchanged.json() == {"delay": 0.0, "fail_status": 0, "outcome": "Success"}


def test_the_page_shows_the_connection_and_what_happened(
    pbx: httpx.Client, crm: CapturingCrm
) -> None:
    callid = rest(pbx).json()["callid"]
    call_of(crm, callid, 4)
    wait_for(lambda: len(pbx.get("/simulator/log").json()) >= 4)
    response = pbx.get("/")
    assert response.headers["content-type"].startswith("text/html")
    page = BeautifulSoup(response.text, "html.parser")
    assert page.h1.get_text() == "Симулятор АТС МегаФон"
    text = page.get_text()
    assert API_KEY in text and str(pbx.base_url).rstrip("/") in text and crm.url in text
    scenario_form = page.find("form", action="/simulator/scenario")
    buttons = {b["value"] for b in scenario_form.find_all("button")}
    assert buttons == set(SCENARIOS)
    assert callid in text and "COMPLETED" in text


def test_the_page_has_a_button_per_scenario_and_the_behaviour_form(
    in_process: TestClient,
) -> None:
    in_process.post("/simulator/behaviour", data={"delay": "2.5", "outcome": "Busy"})
    page = BeautifulSoup(in_process.get("/").text, "html.parser")
    calls = page.find("form", action="/simulator/scenario")
    assert calls["method"] == "post"
    assert calls.find("input", type="hidden", attrs={"name": "back"})["value"] == "1"
    buttons = calls.find_all("button", attrs={"name": "scenario"})
    assert {b["value"]: b.get_text() for b in buttons} == SCENARIOS
    employees = calls.find("select", attrs={"name": "user"}).find_all("option")
    assert [o["value"] for o in employees] == ["admin", "ivanov", "sidorova"]
    behaviour = page.find("form", action="/simulator/behaviour")
    assert behaviour.find("input", attrs={"name": "delay"})["value"] == "2.5"
    assert behaviour.find("option", selected=True).get_text() == "Busy"
    assert behaviour.find("button").get_text() == "Сохранить"
    assert page.find("a", string="обновить")["href"] == "/"


def test_the_page_escapes_what_it_shows(in_process: TestClient) -> None:
    back = in_process.post("/simulator/scenario", data={"scenario": SCRIPT, "back": "1"})
    assert back.status_code == 200  # the redirect to the page, followed
    page = BeautifulSoup(back.text, "html.parser")
    assert page.find("script") is None
    assert page.find(role="alert").get_text() == f"Неизвестный сценарий: {SCRIPT!r}"
    text = page.get_text()
    assert f"http://crm.example/{SCRIPT}" in text and f"{SCRIPT} (admin, 700)" in text
    assert "&lt;script&gt;" in back.text
