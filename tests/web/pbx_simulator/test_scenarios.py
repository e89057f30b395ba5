"""The webhook sequences of each scenario call, as the CRM receives them."""

from __future__ import annotations

import httpx

from tests.support.simulator import CRM_KEY, CapturingCrm, call_of, steps
from web.pbx_simulator.config import default_users
from web.pbx_simulator.scenarios import COMPANY_NUMBER, Call

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


def test_only_inbound_calls_name_the_company_number() -> None:
    admin, ivanov, _ = default_users()
    call = Call("59a8ce80-541d-4340-b123-3035bb9469ff", "79265550101", "http://pbx/records")
    inbound = call.scenario("answered", admin, ivanov)
    outbound = call.scenario("busy", admin, ivanov)
    assert {f.get("diversion") for f in inbound} == {COMPANY_NUMBER}
    assert all("diversion" not in f for f in outbound)
    assert inbound[-1]["link"] == "http://pbx/records/59a8ce80-541d-4340-b123-3035bb9469ff.wav"
