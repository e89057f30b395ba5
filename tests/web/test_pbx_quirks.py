"""What real PBXs send, end to end: our PBX simulator with its quirks switched on posts to the
CRM over HTTP, and every call lands whole in the right dialog (PROTOCOL.md §6.1)."""

from __future__ import annotations

import sqlalchemy as sa

from core import variables
from core.db import Database
from core.tables import calls, users
from tests.support.crm_and_pbx import eventually
from tests.support.crm_and_pbx import pair as pair  # the fixture: the CRM and the PBX
from tests.support.databases import run_core
from tests.support.simulator import steps


async def _call(db: Database, callid: str) -> dict:
    row = await db.fetch_one(calls.select().where(calls.c.callid == callid))
    return dict(row) if row else {}


def test_a_quirky_pbx_is_understood(pair):
    pair.connect()
    # The admin copied the login as a webhook shows it; the PBX itself knows `ivanov`.
    run_core(
        pair.url,
        lambda db: db.execute(
            users.update()
            .where(users.c.id == pair.ids["manager"])
            .values(pbx_user="ivanov@vats123456.megapbx.ru")
        ),
    )
    on = {"lowercase_status": "1", "user_at_domain": "1", "late_recording": "1", "get": "1"}
    pair.pbx("POST", "/simulator/quirks", json=on)
    manager = pair.browser("ivan@romashka.ru")
    client_id = pair.ids["client"]
    assert manager.htmx("POST", f"/clients/{client_id}/call").status_code == 200
    [placed] = pair.pbx("GET", "/simulator/calls")
    assert placed["user"] == "ivanov"  # the bare login, not the setting's `@domain`
    expected = [
        "megafon_call_event OUTGOING",
        "megafon_call_event ACCEPTED",
        "megafon_call_event COMPLETED",
        "megafon_call_status Success",
    ]
    eventually(lambda: len(pair.pbx("GET", "/simulator/log")) == 5)  # both histories
    assert pair.dialog(client_id) == expected  # one status message for two histories
    call = run_core(pair.url, _call, placed["callid"])
    assert (call["status"], call["pbx_user"]) == ("Success", "ivanov")
    assert call["record_link"].endswith(".wav")  # from the second history
    got = {
        v["name"]: v["value"]
        for v in run_core(pair.url, lambda db: variables.list_variables(db, client_id))
    }
    assert got["megafon_record_link"] == call["record_link"]
    assert got["megafon_call_user"] == "ivanov"

    # A department nobody answered, posted in windows-1251; then a call out of hours.
    pair.pbx("POST", "/simulator/quirks", json={"cp1251": "1", "lowercase_status": "1"})
    department = {"scenario": "missed_group", "user": "ivanov", "phone": "79265550101"}
    group = pair.pbx("POST", "/simulator/scenario", json=department)["callid"]
    off_hours = pair.pbx(
        "POST", "/simulator/scenario", json={"scenario": "off_hours", "phone": "79035550202"}
    )["callid"]
    missed = ["megafon_call_status Missed", "megafon_missed_opened"]
    eventually(lambda: pair.dialog(client_id) == [*expected, *missed])
    call = run_core(pair.url, _call, group)
    assert call["group_name"] == "Отдел продаж"  # read as windows-1251
    assert call["pbx_user"] in ("ivanov", "sidorova")  # a member rung, never the group `g_…`
    eventually(lambda: run_core(pair.url, _call, off_hours).get("status") == "Missed")
    night = run_core(pair.url, _call, off_hours)  # contact and history only, user `pbx`
    assert night["pbx_user"] == "" and night["client_id"] is not None
    assert pair.dialog(night["client_id"]) == missed
    log = pair.pbx("GET", "/simulator/log")
    assert all(entry["status"] == 200 for entry in log), log
    assert steps([e["fields"] for e in log if e["fields"]["callid"] == off_hours]) == [
        ("contact", ""),
        ("history", "missed"),
    ]
    assert (
        run_core(pair.url, lambda db: db.fetch_val(sa.select(sa.func.count()).select_from(calls)))
        == 3
    )
