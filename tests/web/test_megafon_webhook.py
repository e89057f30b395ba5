"""POST /megafon_webhook with every sample of PROTOCOL.md §3: the PBX as a user of the CRM."""

import json

import pytest

from core import clients, dialogs, projects, variables
from core.telephony import inbox
from tests.support import builders
from tests.support import megafon as samples


@pytest.fixture
def pbx(browser):
    """The PBX's view: post a webhook with the project's key, read what the CRM did."""
    admin = browser.run(builders.admin)
    key = browser.run(projects.generate_api_key, admin["project_id"])

    class Pbx:
        project_id = admin["project_id"]
        token = key

        def post(self, fields, **kwargs):
            return browser.post("/megafon_webhook", data={**fields, "crm_token": key}, **kwargs)

        def dialog_of(self, phone):
            client_id = self.client_id(phone)
            page = browser.run(dialogs.dialog, self.project_id, client_id)
            return [m["text"] for m in page.messages]

        def client_id(self, phone):
            found = browser.run(clients.find_clients, self.project_id, phone).clients
            assert len(found) == 1, found
            return found[0]["id"]

        def variables_of(self, phone):
            rows = browser.run(variables.list_variables, self.client_id(phone))
            return {r["name"]: r["value"] for r in rows}

        def call(self, callid):
            rows = browser.run(_call, self.project_id, callid)
            return rows

    return Pbx()


async def _call(db, project_id, callid):
    from core.tables import calls as table

    return await db.fetch_one(
        table.select().where(table.c.project_id == project_id, table.c.callid == callid)
    )


@pytest.mark.parametrize("name", sorted(samples.ALL))
def test_every_protocol_sample_is_accepted(pbx, name):
    response = pbx.post(samples.ALL[name])
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"


def test_an_inbound_answered_call_lands_in_a_new_telephony_clients_dialog(pbx):
    for sample in (
        samples.W3,
        {**samples.W3, "type": "ACCEPTED"},
        {**samples.W3, "type": "COMPLETED"},
        samples.W8,
    ):
        assert pbx.post(sample).status_code == 200
    assert pbx.dialog_of("79265550101") == [
        "megafon_call_event ACCEPTED",
        "megafon_call_event COMPLETED",
        "megafon_call_status Success",
    ]
    assert pbx.variables_of("79265550101") == {
        "megafon_call_direction": "in",
        "megafon_call_ext": "701",
        "megafon_call_id": samples.W8["callid"],
        "megafon_call_user": "ivanov",
        "megafon_record_link": samples.RECORD,
    }
    call = pbx.call(samples.W8["callid"])
    assert (call["status"], call["duration"], call["direction"]) == ("Success", 184, "in")
    assert call["started_at"].isoformat() == "2024-03-15T09:15:12+00:00"
    assert call["group_name"] == "Отдел продаж" and call["diversion"] == "74951234567"


def test_incoming_and_cancelled_are_stored_but_write_no_dialog_message(pbx):
    pbx.post({**samples.W7, "phone": "79265550101"})
    pbx.post(samples.W3)
    assert pbx.dialog_of("79265550101") == []
    assert pbx.call(samples.W3["callid"])["last_event"] == "INCOMING"
    assert pbx.call(samples.W7["callid"])["last_event"] == "CANCELLED"


@pytest.mark.parametrize(
    ("status", "spelled"),
    [
        ("missed", "Missed"),
        ("MISSED", "Missed"),
        ("success", "Success"),
        ("cancel", "Cancel"),
        ("busy", "Busy"),
        ("notavailable", "NotAvailable"),
        ("NOTALLOWED", "NotAllowed"),
        ("notfound", "NotFound"),
        ("no_answer", "Missed"),
    ],
)
def test_statuses_are_written_as_the_salebot_page_spells_them(pbx, status, spelled):
    pbx.post({**samples.W12, "status": status})
    assert pbx.dialog_of("79161234567") == [f"megafon_call_status {spelled}"]


def test_outgoing_call_sequence(pbx):
    pbx.post(samples.W11)
    pbx.post({**samples.W11, "type": "ACCEPTED"})
    pbx.post({**samples.W11, "type": "COMPLETED"})
    pbx.post(
        {
            **samples.W13,
            "callid": samples.W11["callid"],
            "phone": samples.W11["phone"],
            "user": "ivanov@vats123456.megapbx.ru",
        }
    )
    assert pbx.dialog_of("79199378888") == [
        "megafon_call_event OUTGOING",
        "megafon_call_event ACCEPTED",
        "megafon_call_event COMPLETED",
        "megafon_call_status Success",
    ]
    assert pbx.variables_of("79199378888")["megafon_call_direction"] == "out"
    assert pbx.variables_of("79199378888")["megafon_call_user"] == "ivanov"


def test_a_repeated_delivery_has_no_second_effect_and_still_gets_200(pbx):
    for _ in range(3):
        assert pbx.post({**samples.W3, "type": "ACCEPTED"}).status_code == 200
        assert pbx.post(samples.W8).status_code == 200
    assert pbx.dialog_of("79265550101") == [
        "megafon_call_event ACCEPTED",
        "megafon_call_status Success",
    ]


def test_history_is_final_whatever_arrives_after_it(pbx):
    pbx.post(samples.W8)
    pbx.post({**samples.W3, "type": "COMPLETED"})
    pbx.post({**samples.W3, "type": "INCOMING"})
    call = pbx.call(samples.W8["callid"])
    assert (call["status"], call["duration"], call["record_link"]) == (
        "Success",
        184,
        samples.RECORD,
    )
    assert call["last_event"] == ""
    assert pbx.dialog_of("79265550101") == [
        "megafon_call_status Success",
        "megafon_call_event COMPLETED",
    ]


def test_one_call_record_per_callid_and_transfers_are_linked(pbx):
    pbx.post(samples.W15)
    pbx.post({**samples.W5, "callid": "call-b", "phone": "79001112233", "user": "operator-b"})
    pbx.post({**samples.W13, "callid": "call-b", "phone": "79001112233", "user": "operator-b"})
    first, second = pbx.call("call-a"), pbx.call("call-b")
    assert first["second_callid"] == "call-b" and second["transferred_from"] == "call-a"
    assert first["client_id"] == second["client_id"]
    assert second["status"] == "Success" and second["pbx_user"] == "operator-b"
    assert pbx.dialog_of("79001112233") == [
        "megafon_call_event TRANSFERRED",
        "megafon_call_event ACCEPTED",
        "megafon_call_status Success",
    ]


def test_rating_is_stored_on_its_call(pbx):
    pbx.post({**samples.W12, "callid": "43294397431", "phone": "88005553535"})
    pbx.post(samples.W16)
    assert pbx.call("43294397431")["rating"] == 4


def test_wrong_or_missing_token_is_401_and_nothing_is_stored(pbx, browser):
    wrong = browser.post("/megafon_webhook", data={**samples.W3, "crm_token": "nope"})
    assert wrong.status_code == 401 and wrong.json() == {"error": "Invalid token"}
    missing = browser.post("/megafon_webhook", data=samples.W3)
    assert missing.status_code == 401
    assert browser.run(inbox.journal, pbx.project_id)[0] == []


def test_a_regenerated_key_stops_the_old_one_at_once(pbx, browser):
    browser.run(projects.generate_api_key, pbx.project_id)
    assert pbx.post(samples.W3).status_code == 401


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"cmd": "event", "type": "INCOMING", "phone": "79265550101"}, "callid"),
        ({"cmd": "history", "type": "in", "callid": "x", "phone": "79265550101"}, "status"),
        ({"cmd": "dance"}, "cmd"),
        ({}, "cmd"),
        ({**samples.W8, "start": "2024-03-15 09:15"}, "start"),
        ({**samples.W8, "status": "Exploded"}, "status"),
        ({**samples.W3, "type": "RINGING"}, "type"),
        ({**samples.W8, "duration": "-5"}, "duration"),
        ({**samples.W5, "user": "iva\x00nov"}, "user"),  # a NUL is refused, not dropped
    ],
)
def test_bad_parameters_are_400_naming_what_is_wrong_and_change_nothing(
    pbx, browser, fields, named
):
    response = pbx.post(fields)
    assert response.status_code == 400
    assert response.json()["error"] == "Invalid parameters" and named in response.json()["details"]
    assert browser.run(clients.find_clients, pbx.project_id).clients == []
    entries, _ = browser.run(inbox.journal, pbx.project_id)
    assert entries[0]["result"] == "rejected" and named in entries[0]["error"]


def test_json_bodies_and_unknown_fields_are_accepted_and_kept(pbx, browser):
    response = browser.post(
        "/megafon_webhook", json={**samples.W10, "crm_token": pbx.token, "new_field": "x"}
    )
    assert response.status_code == 200
    entries, _ = browser.run(inbox.journal, pbx.project_id)
    assert entries[0]["fields"]["new_field"] == "x" and entries[0]["fields"]["missedStatus"] == "3"
    assert "crm_token" not in entries[0]["fields"]
    assert pbx.dialog_of("79031234567") == ["megafon_call_status Missed", "megafon_missed_opened"]


def test_status_values_in_any_case(pbx):
    pbx.post({**samples.W3, "type": "accepted", "direction": "IN"})
    assert pbx.dialog_of("79265550101") == ["megafon_call_event ACCEPTED"]


def test_a_recording_link_that_is_not_a_web_address_is_kept_raw_but_never_shown(pbx):
    pbx.post({**samples.W8, "link": "javascript:alert(1)"})
    assert "megafon_record_link" not in pbx.variables_of("79265550101")
    assert pbx.call(samples.W8["callid"])["record_link"] == ""


def test_short_internal_numbers_never_create_clients(pbx, browser):
    pbx.post({**samples.W3, "phone": "701"})
    pbx.post({**samples.W8, "phone": "701"})
    assert browser.run(clients.find_clients, pbx.project_id).clients == []
    assert pbx.call(samples.W8["callid"])["status"] == "Success"


def test_journal_keeps_raw_payloads_and_results(pbx, browser):
    pbx.post(samples.W8)
    pbx.post(samples.W8)
    pbx.post({"cmd": "event"})
    entries, _ = browser.run(inbox.journal, pbx.project_id)
    assert [e["result"] for e in entries] == ["rejected", "duplicate", "ok"]
    assert json.loads(entries[2]["payload"])["link"] == samples.RECORD


@pytest.mark.parametrize(
    ("body", "content_type", "says"),
    [
        ("", "application/json", "the body is not valid JSON"),
        ("{not json", "application/json", "the body is not valid JSON"),
        ('["a list"]', "application/json", "the JSON body must be an object"),
        ('{"a": ' + "[" * 40 + "]" * 40 + "}", "application/json", "nested deeper than 32"),
        ("[" * 30_000, "application/json", "the body is not valid JSON"),
    ],
)
def test_an_unreadable_body_is_400_in_the_pbxs_words(browser, body, content_type, says):
    response = browser.post(
        "/megafon_webhook", content=body, headers={"Content-Type": content_type}
    )
    assert response.status_code == 400
    assert response.json()["error"] == "Invalid parameters"
    assert says in response.json()["details"]["body"]
