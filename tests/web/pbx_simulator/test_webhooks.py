"""Posting webhooks to the CRM: whatever the CRM does, the simulator goes on."""

from __future__ import annotations

from tests.support.simulator import CapturingCrm, rest, simulator, wait_for


def test_a_crm_that_is_down_is_logged_not_fatal(crm: CapturingCrm) -> None:
    crm.url = "http://127.0.0.1:9/megafon_webhook"
    with simulator(crm) as pbx:
        pbx.post("/simulator/scenario", json={"scenario": "busy"})
        log = wait_for(lambda: len(got := pbx.get("/simulator/log").json()) >= 3 and got)
        assert all(entry["status"] is None and entry["error"] for entry in log)
        assert log[0]["error"] == "CRM недоступна: не удалось подключиться"  # its page's words
        assert rest(pbx).status_code == 200
