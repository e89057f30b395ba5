"""The PBX API the CRM calls: REST v1 makeCall and users, the legacy accounts and makeCall."""

from __future__ import annotations

import httpx
import pytest

from tests.support.simulator import (
    API_KEY,
    CRM_KEY,
    CapturingCrm,
    call_of,
    rest,
    simulator,
    steps,
    wait_for,
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
    unknown = pbx.post("/sys/crm_api.wcgp", data={"cmd": "frobnicate", "token": API_KEY})
    assert (unknown.status_code, unknown.json()) == (400, {"error": "Invalid parameters: [cmd]"})
    no_window = pbx.post("/sys/crm_api.wcgp", data={"cmd": "history", "token": API_KEY})
    assert (no_window.status_code, no_window.json()) == (400, {"error": "Invalid parameters"})
    window = {"cmd": "history", "token": API_KEY, "start": "20000101T000000Z"}
    csv_lines = pbx.post("/sys/crm_api.wcgp", data={**window, "end": "20991231T000000Z"})
    assert csv_lines.headers["content-type"].startswith("text/csv")
    assert csv_lines.text.startswith(callid + ",out,+79265550101,ivanov@")  # when it ended


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
