"""The simulator's call history (PROTOCOL.md §2.2 REST, §2.1 legacy CSV): every call it plays,
delivered or not, as the CRM's reconciliation reads it back."""

from __future__ import annotations

import httpx

from tests.support.simulator import API_KEY, CapturingCrm, call_of, simulator, wait_for

WINDOW = {"start": "20000101T000000Z", "end": "2099-12-31T00:00:00Z"}  # both spellings


def history(pbx: httpx.Client, **params: str) -> httpx.Response:
    return pbx.get(
        "/crmapi/v1/history/json", params={**WINDOW, **params}, headers={"X-API-KEY": API_KEY}
    )


def test_rest_history_filters_pages_and_counts_what_the_crm_did_not_take(
    pbx: httpx.Client, crm: CapturingCrm
) -> None:
    answered = pbx.post("/simulator/scenario", data={"scenario": "answered"}).json()["callid"]
    missed = pbx.post("/simulator/scenario", data={"scenario": "missed", "user": "ivanov"}).json()[
        "callid"
    ]
    call_of(crm, answered, 5)  # contact, INCOMING, ACCEPTED, COMPLETED, history
    call_of(crm, missed, 4)  # contact, INCOMING, CANCELLED, history
    calls = wait_for(lambda: len(got := history(pbx).json()) == 2 and got)
    assert {c["uid"] for c in calls} == {answered, missed}
    success = next(c for c in calls if c["uid"] == answered)
    assert success["status"] == "success" and success["record"].endswith(".wav")
    assert success["duration"] == 42 and success["start"].endswith("Z")
    assert [c["uid"] for c in history(pbx, type="missed").json()] == [missed]
    assert [c["uid"] for c in history(pbx, user="ivanov").json()] == [missed]
    assert len(history(pbx, limit="1").json()) == 1
    assert history(pbx, start="yesterday").status_code == 400
    refused = pbx.get("/crmapi/v1/history/json", params=WINDOW)
    assert (refused.status_code, refused.json()) == (401, {"message": "Invalid token"})

    loaded = pbx.post("/simulator/history", data={"count": "500", "day": "2026-01-02"}).json()
    assert loaded == {"loaded": 500, "total": 502}
    day = history(pbx, start="20260102T000000Z", end="20260103T000000Z").json()
    assert len(day) == 500 and day == sorted(day, key=lambda c: (c["start"], c["uid"]))
    assert pbx.post("/simulator/history", data={"count": "many"}).status_code == 400
    assert 'id="undelivered" class="ok">0<' in pbx.get("/").text


def test_calls_the_crm_could_not_take_are_kept_and_counted() -> None:
    nowhere = CapturingCrm()
    nowhere.url = "http://127.0.0.1:9/megafon_webhook"  # nothing listens there
    with simulator(nowhere) as pbx:
        callid = pbx.post("/simulator/scenario", data={"scenario": "busy"}).json()["callid"]
        kept = wait_for(lambda: history(pbx).json())
        assert [c["uid"] for c in kept] == [callid] and kept[0]["status"] == "busy"
        # OUTGOING, CANCELLED and history: none taken
        page = wait_for(
            lambda: 'id="undelivered" class="error">3<' in (t := pbx.get("/").text) and t
        )
        assert 'id="history-size">1<' in page
