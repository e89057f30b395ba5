"""The PBX simulator over real HTTP, posting its webhooks to a capturing CRM on another port."""

from __future__ import annotations

import io
import threading
import time
import wave
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from bs4 import BeautifulSoup
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.live_server import LiveServer
from web.pbx_simulator import SimulatorConfig, create_simulator

API_KEY = "pbx-secret"
CRM_KEY = "crm-secret"


class CapturingCrm:
    """A CRM that records every webhook's form fields and answers 200 `{}`."""

    def __init__(self) -> None:
        self.url = ""
        self.received: list[dict[str, str]] = []
        self.lock = threading.Lock()
        self.app = Starlette(routes=[Route("/megafon_webhook", self.hook, methods=["POST"])])

    async def hook(self, request: Request) -> JSONResponse:
        async with request.form() as form:
            fields = {k: v for k, v in form.items() if isinstance(v, str)}
        with self.lock:
            self.received.append(fields)
        return JSONResponse({})

    def of_call(self, callid: str) -> list[dict[str, str]]:
        with self.lock:
            return [f for f in self.received if f.get("callid") == callid]


def wait_for(condition: Callable[[], Any], timeout: float = 3.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the simulator")
        time.sleep(0.01)
    return result


def steps(fields: list[dict[str, str]]) -> list[tuple[str, str]]:
    """(cmd, event type or history status) for each webhook."""
    return [
        (f["cmd"], f.get("status", "") if f["cmd"] == "history" else f.get("type", ""))
        for f in fields
    ]


def call_of(crm: CapturingCrm, callid: str, count: int) -> list[dict[str, str]]:
    return wait_for(lambda: (got := crm.of_call(callid)) and len(got) >= count and got)


@pytest.fixture
def crm() -> Iterator[CapturingCrm]:
    capturing = CapturingCrm()
    with LiveServer(capturing.app) as server:
        capturing.url = f"{server.url}/megafon_webhook"
        yield capturing


@contextmanager
def simulator(crm: CapturingCrm, **options: Any) -> Iterator[httpx.Client]:
    config = SimulatorConfig(
        api_key=API_KEY, crm_url=crm.url, crm_key=CRM_KEY, step_delay=0.01, **options
    )
    with LiveServer(create_simulator(config)) as server, httpx.Client(base_url=server.url) as c:
        yield c


@pytest.fixture
def pbx(crm: CapturingCrm) -> Iterator[httpx.Client]:
    with simulator(crm) as client:
        yield client


def rest(client: httpx.Client, user: str = "ivanov", phone: str = "79265550101") -> httpx.Response:
    return client.post(
        "/crmapi/v1/makecall", json={"user": user, "phone": phone}, headers={"X-API-KEY": API_KEY}
    )


def test_rest_makecall_plays_the_outbound_call_to_the_crm(
    pbx: httpx.Client, crm: CapturingCrm
) -> None:
    response = rest(pbx)
    assert response.status_code == 200
    callid = response.json()["callid"]
    sent = call_of(crm, callid, 4)
    assert steps(sent) == [
        ("event", "OUTGOING"),
        ("event", "ACCEPTED"),
        ("event", "COMPLETED"),
        ("history", "Success"),
    ]
    assert {f["crm_token"] for f in sent} == {CRM_KEY}
    assert {(f["user"], f["ext"], f["phone"]) for f in sent} == {("ivanov", "701", "79265550101")}
    assert all(f["direction"] == "out" for f in sent[:3])
    history = sent[-1]
    assert history["type"] == "out" and history["duration"] != "0"
    assert history["link"] == str(pbx.base_url).rstrip("/") + f"/records/{callid}.wav"
    assert len(history["start"]) == 16 and history["start"].endswith("Z")
    assert pbx.get("/simulator/calls").json() == [
        {"callid": callid, "user": "ivanov", "phone": "79265550101", "api": "rest"}
    ]
    log = wait_for(lambda: len(got := pbx.get("/simulator/log").json()) >= 4 and got)
    assert [entry["status"] for entry in log] == [200] * 4


def test_makecall_accepts_a_form_body_an_extension_and_a_qualified_login(
    pbx: httpx.Client,
) -> None:
    headers = {"X-API-KEY": API_KEY}
    by_form = pbx.post("/crmapi/v1/makecall", data={"user": "702", "phone": "7"}, headers=headers)
    assert by_form.status_code == 200
    assert rest(pbx, user="admin@vats.example").status_code == 200
    assert rest(pbx, user="74950000701").status_code == 200


def test_wrong_key_is_refused_on_both_apis(pbx: httpx.Client) -> None:
    wrong = pbx.post(
        "/crmapi/v1/makecall", json={"user": "ivanov", "phone": "7"}, headers={"X-API-KEY": "no"}
    )
    assert (wrong.status_code, wrong.json()) == (401, {"message": "Invalid token"})
    assert pbx.get("/crmapi/v1/users").status_code == 401
    legacy = pbx.post("/sys/crm_api.wcgp", data={"cmd": "accounts", "token": "no"})
    assert (legacy.status_code, legacy.json()) == (401, {"error": "Invalid token"})
    assert pbx.get("/simulator/calls").json() == []


@pytest.mark.parametrize("body", [{"user": "ivanov", "phone": "+79265550101"}, {"user": "ivanov"}])
def test_rest_makecall_rejects_bad_parameters(pbx: httpx.Client, body: dict[str, str]) -> None:
    response = pbx.post("/crmapi/v1/makecall", json=body, headers={"X-API-KEY": API_KEY})
    assert (response.status_code, response.json()) == (400, {"message": "Invalid parameters"})


def test_unknown_user_is_404_on_rest_and_400_on_legacy(pbx: httpx.Client) -> None:
    response = rest(pbx, user="nobody")
    assert (response.status_code, response.json()) == (404, {"message": "User not found"})
    legacy = pbx.post(
        "/sys/crm_api.wcgp",
        data={"cmd": "makeCall", "token": API_KEY, "user": "nobody", "phone": "79265550101"},
    )
    assert (legacy.status_code, legacy.json()) == (400, {"error": "Invalid parameters"})


def test_legacy_accounts_make_call_and_unknown_command(
    pbx: httpx.Client, crm: CapturingCrm
) -> None:
    accounts = pbx.get("/sys/crm_api.wcgp", params={"cmd": "accounts", "token": API_KEY}).json()
    assert [a["name"] for a in accounts] == ["admin", "ivanov", "sidorova"]
    assert set(accounts[0]) == {"name", "realName", "ext", "telnum", "email"}
    response = pbx.post(
        "/sys/crm_api.wcgp",
        data={"cmd": "makeCall", "token": API_KEY, "user": "701", "phone": "79265550101"},
    )
    callid = response.json()["uuid"]
    assert steps(call_of(crm, callid, 4))[0] == ("event", "OUTGOING")
    assert pbx.get("/simulator/calls").json()[-1]["api"] == "legacy"
    unknown = pbx.post("/sys/crm_api.wcgp", data={"cmd": "history", "token": API_KEY})
    assert (unknown.status_code, unknown.json()) == (400, {"error": "Invalid parameters: [cmd]"})


def test_a_legacy_only_pbx_has_no_rest_api(crm: CapturingCrm) -> None:
    with simulator(crm, rest=False) as pbx:
        response = rest(pbx)
        assert (response.status_code, response.text) == (404, "Not Found")
        assert pbx.get("/crmapi/v1/users", headers={"X-API-KEY": API_KEY}).status_code == 404
        legacy = pbx.post("/sys/crm_api.wcgp", data={"cmd": "accounts", "token": API_KEY})
        assert legacy.status_code == 200


def test_users_endpoint_shape(pbx: httpx.Client) -> None:
    body = pbx.get("/crmapi/v1/users", headers={"X-API-KEY": API_KEY}).json()
    assert body["info"] == {"search": "", "start": 0, "limit": 100, "total": 3, "next": None}
    assert body["items"][0] == {
        "login": "admin",
        "name": "Анна Администратор",
        "ext": "700",
        "telnum": "74950000700",
        "mobile": "",
        "email": "admin@vats.example",
        "position": "",
        "role": "admin",
    }
    page = pbx.get("/crmapi/v1/users", params={"limit": "2"}, headers={"X-API-KEY": API_KEY}).json()
    assert [u["login"] for u in page["items"]] == ["admin", "ivanov"]
    assert page["info"]["next"] == 2


SCENARIOS = {
    "answered": [
        ("contact", ""),
        ("event", "INCOMING"),
        ("event", "ACCEPTED"),
        ("event", "COMPLETED"),
        ("history", "Success"),
    ],
    "missed": [
        ("contact", ""),
        ("event", "INCOMING"),
        ("event", "CANCELLED"),
        ("history", "Missed"),
    ],
    "transferred": [
        ("contact", ""),
        ("event", "INCOMING"),
        ("event", "ACCEPTED"),
        ("event", "TRANSFERRED"),
        ("event", "COMPLETED"),
        ("history", "Success"),
    ],
    "busy": [("event", "OUTGOING"), ("event", "CANCELLED"), ("history", "Busy")],
    "not_available": [("event", "OUTGOING"), ("event", "CANCELLED"), ("history", "NotAvailable")],
    "unknown_caller": [
        ("contact", ""),
        ("event", "INCOMING"),
        ("event", "ACCEPTED"),
        ("event", "COMPLETED"),
        ("history", "Success"),
    ],
}


def test_each_scenario_plays_its_webhooks_in_order(pbx: httpx.Client, crm: CapturingCrm) -> None:
    callids = {}
    for name in SCENARIOS:
        response = pbx.post("/simulator/scenario", json={"scenario": name, "user": "ivanov"})
        assert response.status_code == 200
        callids[name] = response.json()["callid"]
    for name, expected in SCENARIOS.items():
        sent = call_of(crm, callids[name], len(expected))
        assert steps(sent) == expected, name
        assert {f["crm_token"] for f in sent} == {CRM_KEY}
        assert len({f["phone"] for f in sent}) == 1
        history = sent[-1]
        assert history["type"] == ("out" if name in ("busy", "not_available") else "in")
        assert ("link" in history) == (history["status"] == "Success")
        if history["status"] != "Success":
            assert history["duration"] == "0"
    assert crm.of_call(callids["answered"])[0]["phone"] == "79161234567"
    assert crm.of_call(callids["unknown_caller"])[0]["phone"] != "79161234567"
    transfer = next(
        f for f in crm.of_call(callids["transferred"]) if f.get("type") == "TRANSFERRED"
    )
    assert transfer["user"] == "ivanov" and transfer["second_callid"] != callids["transferred"]
    assert crm.of_call(callids["transferred"])[-1]["user"] == "sidorova"


def test_scenario_validation_and_the_page_form(pbx: httpx.Client) -> None:
    assert pbx.post("/simulator/scenario", data={"scenario": "nope"}).status_code == 400
    bad_phone = {"scenario": "answered", "phone": "+7916"}
    assert pbx.post("/simulator/scenario", data=bad_phone).status_code == 400
    from_page = pbx.post("/simulator/scenario", data={"scenario": "missed", "back": "1"})
    assert from_page.status_code == 303
    assert from_page.headers["location"].endswith("/")


def test_behaviour_delay_fail_status_and_outcome(pbx: httpx.Client, crm: CapturingCrm) -> None:
    slow = pbx.post("/simulator/behaviour", json={"delay": 0.3})
    assert slow.json() == {"delay": 0.3, "fail_status": 0, "outcome": "Success"}
    started = time.monotonic()
    assert rest(pbx).status_code == 200
    assert time.monotonic() - started >= 0.3

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


def test_the_recording_is_a_short_wav(pbx: httpx.Client) -> None:
    response = pbx.get("/records/59a8ce80-541d-4340-b123-3035bb9469ff.wav")
    assert response.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(response.content)) as wav:
        assert (wav.getnchannels(), wav.getframerate()) == (1, 8000)
        assert 1 <= wav.getnframes() / wav.getframerate() <= 2


def test_a_crm_that_is_down_is_logged_not_fatal(crm: CapturingCrm) -> None:
    crm.url = "http://127.0.0.1:9/megafon_webhook"
    with simulator(crm) as pbx:
        pbx.post("/simulator/scenario", json={"scenario": "busy"})
        log = wait_for(lambda: len(got := pbx.get("/simulator/log").json()) >= 3 and got)
        assert all(entry["status"] is None and entry["error"] for entry in log)
        assert rest(pbx).status_code == 200


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
