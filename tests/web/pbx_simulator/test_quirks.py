"""What real PBXs send, switched on in the simulator: each quirk as the CRM receives it."""

from __future__ import annotations

from urllib.parse import parse_qsl

import httpx

from tests.support.simulator import CapturingCrm, call_of, steps
from web.pbx_simulator.quirks import DOMAIN, Quirks
from web.pbx_simulator.scenarios import GROUP


def play(pbx: httpx.Client, scenario: str) -> str:
    response = pbx.post("/simulator/scenario", json={"scenario": scenario, "user": "ivanov"})
    assert response.status_code == 200, response.text
    callid: str = response.json()["callid"]
    return callid


def test_off_hours_and_department_calls_name_no_employee(
    pbx: httpx.Client, crm: CapturingCrm
) -> None:
    off_hours = call_of(crm, play(pbx, "off_hours"), 2)
    assert steps(off_hours) == [("contact", ""), ("history", "Missed")]  # no events at all
    assert off_hours[-1]["user"] == "pbx"
    group = call_of(crm, play(pbx, "missed_group"), 6)
    assert steps(group) == [
        ("contact", ""),
        ("event", "INCOMING"),
        ("event", "INCOMING"),
        ("event", "CANCELLED"),
        ("event", "CANCELLED"),
        ("history", "Missed"),
    ]
    assert [f["user"] for f in group[1:3]] == ["ivanov", "sidorova"]  # each member is rung
    history = group[-1]
    assert history["user"].startswith("g_") and history["user"] == history["group"]
    assert history["groupRealName"] == GROUP


def test_each_quirk_as_the_crm_receives_it(pbx: httpx.Client, crm: CapturingCrm) -> None:
    switched = pbx.post(
        "/simulator/quirks",
        json={"lowercase_status": "1", "user_at_domain": "1", "late_recording": "1", "get": "1"},
    )
    assert switched.json() == {**dict.fromkeys(Quirks.names(), True), "cp1251": False}
    sent = call_of(crm, play(pbx, "answered"), 6)
    assert steps(sent)[-2:] == [("history", "success"), ("history", "success")]
    first, second = sent[-2:]
    assert "link" not in first and second["link"].endswith(".wav")  # the recording comes later
    assert {f["user"] for f in sent if "user" in f} == {f" ivanov@{DOMAIN} "}
    assert {method for method, _, _ in crm.requests} == {"GET"}

    pbx.post("/simulator/quirks", data={"cp1251": "on"})  # the page's form: unticked, unsent
    sent = call_of(crm, play(pbx, "missed_group"), 6)
    assert steps(sent)[-1] == ("history", "Missed") and sent[-1]["user"].startswith("g_")
    method, content_type, body = crm.requests[-1]
    assert (method, content_type) == (
        "POST",
        "application/x-www-form-urlencoded; charset=windows-1251",
    )
    assert dict(parse_qsl(body.decode("ascii"), encoding="cp1251"))["groupRealName"] == GROUP
    page = pbx.get("/").text
    assert 'name="cp1251" value="1" checked' in page and 'name="get" value="1">' in page
