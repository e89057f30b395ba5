"""POST /megafon_webhook with every sample of PROTOCOL.md §3: the PBX as a user of the CRM."""

import json
from urllib.parse import urlencode

import pytest

from core import clients, dialogs, projects, variables
from core.telephony import inbox, popups, protocol
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
    """An event after the history changes neither the outcome nor the client's variables, and
    writes nothing to the dialog: a `megafon_call_event` after `megafon_call_status` would
    restart a bot's reaction to a call that is over."""
    pbx.post(samples.W8)
    before = pbx.variables_of("79265550101")
    other = {"user": "petrov", "ext": "702", "direction": "out"}
    for event_type in ("COMPLETED", "INCOMING", "ACCEPTED"):
        assert pbx.post({**samples.W3, "type": event_type, **other}).status_code == 200
    call = pbx.call(samples.W8["callid"])
    assert (call["status"], call["duration"], call["record_link"]) == (
        "Success",
        184,
        samples.RECORD,
    )
    assert (call["last_event"], call["pbx_user"], call["ext"], call["direction"]) == (
        "",
        "ivanov",
        "701",
        "in",
    )
    assert call["accepted_at"] is None and call["popup_topics"] == ""
    assert pbx.variables_of("79265550101") == before
    assert before["megafon_call_user"] == "ivanov"
    assert pbx.dialog_of("79265550101") == ["megafon_call_status Success"]


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
        ({k: v for k, v in samples.W8.items() if k != "phone"}, "phone"),
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


# What real PBXs send (PROTOCOL.md §6.1): each quirk is accepted.


def _results(browser, project_id):
    entries, _ = browser.run(inbox.journal, project_id)
    return [e["result"] for e in reversed(entries)]


def test_a_second_history_fills_what_the_first_lacked_and_writes_no_second_message(pbx, browser):
    bare = {k: v for k, v in samples.W8.items() if k not in ("link", "user", "ext", "duration")}
    assert pbx.post(bare).status_code == 200
    # The link comes later; the history API spells the status its way and knows the wait.
    later = {**samples.W8, "status": "success", "wait": "7", "rating": "5"}
    assert pbx.post(later).status_code == 200
    assert pbx.post(later).status_code == 200  # the same again: a repeat
    # A third one that says less, or something else, loses nothing and decides nothing.
    worse = {**bare, "status": "Missed", "duration": "3", "wait": "1", "user": "petrov"}
    assert pbx.post(worse).status_code == 200
    call = pbx.call(samples.W8["callid"])
    assert (call["status"], call["record_link"], call["duration"], call["wait"]) == (
        "Success",
        samples.RECORD,
        184,
        7,
    )
    assert (call["rating"], call["pbx_user"], call["ext"]) == (5, "ivanov", "701")
    assert pbx.dialog_of("79265550101") == ["megafon_call_status Success"]
    variables_ = pbx.variables_of("79265550101")
    assert variables_["megafon_record_link"] == samples.RECORD
    assert variables_["megafon_call_user"] == "ivanov"
    assert _results(browser, pbx.project_id) == ["ok", "ok", "duplicate", "duplicate"]


def test_the_first_history_decides_a_later_one_only_fills_blanks(pbx):
    """A missed call with voicemail: the link comes in a second history that says `Success`,
    after the client's next call; the call stays missed, says so once, and the late link
    does not touch the variables, which describe the newer call now."""
    assert pbx.post(samples.W10).status_code == 200
    newer = {**samples.W10, "callid": "newer", "status": "Success", "duration": "5"}
    assert pbx.post(newer).status_code == 200
    voicemail = "https://records.megapbx.ru/record/voicemail.mp3"
    later = {**samples.W10, "status": "Success", "duration": "20", "link": voicemail}
    assert pbx.post(later).status_code == 200
    call = pbx.call(samples.W10["callid"])
    assert (call["status"], call["record_link"], call["duration"]) == ("Missed", voicemail, 20)
    assert pbx.dialog_of("79031234567") == [
        "megafon_call_status Missed",
        "megafon_missed_opened",
        "megafon_call_status Success",
        "megafon_missed_closed inbound",
    ]
    assert pbx.variables_of("79031234567")["megafon_call_id"] == "newer"
    assert "megafon_record_link" not in pbx.variables_of("79031234567")


def test_a_later_history_naming_who_answered_makes_a_missed_call_answered(pbx, browser):
    """A group call: the PBX's first history says nobody took it, a second one names the
    employee who did (PROTOCOL.md §6.1: an answered outcome is never lost). The call becomes
    answered by that employee and the client leaves «Пропущенные»; the dialog keeps its one
    status message, a bot reacted to it already."""
    group = {**samples.W10, "user": "g_5b1c@vats1.megapbx.ru"}
    assert pbx.post(group).status_code == 200
    assert len(browser.run(_open_missed, pbx.project_id)) == 1
    answered = {
        **samples.W10,
        "status": "Success",
        "user": " ivanov@vats1.megapbx.ru ",
        "duration": "42",
    }
    assert pbx.post(answered).status_code == 200
    call = pbx.call(samples.W10["callid"])
    assert (call["status"], call["pbx_user"], call["duration"]) == ("Success", "ivanov", 42)
    assert browser.run(_open_missed, pbx.project_id) == []
    assert pbx.dialog_of("79031234567") == [
        "megafon_call_status Missed",
        "megafon_missed_opened",
        "megafon_missed_closed inbound",
    ]
    assert pbx.post(answered).status_code == 200  # told again: a repeat
    assert _results(browser, pbx.project_id)[-1] == "duplicate"


@pytest.mark.parametrize(
    ("fields", "status", "direction", "messages"),
    [
        ({**samples.W12, "status": "Rejected"}, "Cancel", "out", ["megafon_call_status Cancel"]),
        (
            {**samples.W8, "status": "answered_elsewhere", "type": "sideways"},
            "Success",
            "in",
            ["megafon_call_status Success"],
        ),
        (
            {**samples.W10, "status": "abandoned"},
            "Missed",
            "in",
            ["megafon_call_status Missed", "megafon_missed_opened"],
        ),
    ],
)
def test_an_unknown_status_is_kept_and_applied_as_its_fallback(
    pbx, browser, fields, status, direction, messages
):
    assert pbx.post(fields).status_code == 200
    call = pbx.call(fields["callid"])
    assert (call["status"], call["status_raw"], call["direction"]) == (
        status,
        fields["status"],
        direction,
    )
    assert pbx.dialog_of(fields["phone"]) == messages
    assert _results(browser, pbx.project_id) == ["ok"]


def test_a_history_without_a_known_direction_takes_the_calls(pbx):
    pbx.post(samples.W11)  # OUTGOING: the call goes out
    history = {**samples.W13, "callid": samples.W11["callid"], "phone": samples.W11["phone"]}
    assert pbx.post({**history, "type": "внешний"}).status_code == 200
    call = pbx.call(samples.W11["callid"])
    assert (call["direction"], call["status_raw"]) == ("out", "")
    assert pbx.variables_of(samples.W11["phone"])["megafon_call_direction"] == "out"


def test_an_unknown_event_type_is_journaled_and_names_its_call_only(pbx, browser):
    assert pbx.post({**samples.W3, "type": "RINGING_AGAIN"}).status_code == 200
    call = pbx.call(samples.W3["callid"])
    assert (call["phone"], call["pbx_user"], call["ext"], call["last_event"]) == (
        "79265550101",
        "ivanov",
        "701",
        "",
    )
    assert pbx.dialog_of("79265550101") == []
    assert pbx.variables_of("79265550101") == {}
    [entry], _ = browser.run(inbox.journal, pbx.project_id)
    assert (entry["result"], entry["event_type"]) == ("ok", "RINGING_AGAIN")


def test_get_and_query_string_webhooks_work_like_a_form_post(pbx, browser):
    """The vendor documents GET for `history`; peers read GET and POST alike."""
    response = browser.get("/megafon_webhook", params={**samples.W8, "crm_token": pbx.token})
    assert response.status_code == 200, response.text
    assert pbx.call(samples.W8["callid"])["status"] == "Success"
    # A POST with its fields in the query string; the body's fields win over the query's.
    query = {**samples.W12, "status": "NotAvailable", "crm_token": pbx.token}
    response = browser.post("/megafon_webhook", params=query, data={"status": "Busy"})
    assert response.status_code == 200, response.text
    assert pbx.call(samples.W12["callid"])["status"] == "Busy"
    response = browser.post("/megafon_webhook", params={**samples.W14, "crm_token": pbx.token})
    assert response.status_code == 200
    assert pbx.dialog_of(samples.W14["phone"]) == ["megafon_call_status NotAvailable"]
    assert browser.get("/megafon_webhook", params=samples.W8).status_code == 401


def test_a_windows_1251_body_is_read_as_such_and_an_unknown_charset_is_refused(pbx, browser):
    body = urlencode({**samples.W3, "crm_token": pbx.token}, encoding="cp1251")
    for charset in ("windows-1251", '"cp1251"'):
        response = browser.post(
            "/megafon_webhook",
            content=body,
            headers={"Content-Type": f"application/x-www-form-urlencoded; charset={charset}"},
        )
        assert response.status_code == 200, response.text
    assert pbx.call(samples.W3["callid"])["group_name"] == "Отдел продаж"
    for charset in ("koi-9", "base64"):
        refused = browser.post(
            "/megafon_webhook",
            content=body,
            headers={"Content-Type": f"application/x-www-form-urlencoded; charset={charset}"},
        )
        assert refused.status_code == 400
        assert refused.json()["details"] == {"body": "the charset named in Content-Type is unknown"}


def test_user_as_login_at_domain_finds_the_employee_and_the_crm_answers_the_bare_login(
    pbx, browser
):
    ivanov = browser.run(
        builders.manager,
        pbx.project_id,
        email="ivanov@romashka.ru",
        call_method="megafon_api",
        pbx_user="ivanov@vats1.megapbx.ru",
    )
    petrov = browser.run(
        builders.manager,
        pbx.project_id,
        email="petrov@romashka.ru",
        call_method="megafon_api",
        pbx_user="Petrov",
    )
    browser.run(builders.client, pbx.project_id, phone=samples.MARIA, responsible_id=ivanov["id"])
    contact = pbx.post({**samples.W2})
    assert contact.json()["responsible"] == "ivanov"
    for sent, whom in ((" ivanov@vats1.megapbx.ru ", ivanov), ("petrov@vats1.megapbx.ru", petrov)):
        hook = protocol.parse({**samples.W3, "user": sent})
        assert browser.run(popups.rung_employees, pbx.project_id, hook) == [whom["id"]]
    assert pbx.post({**samples.W3, "user": " Ivanov@vats1.megapbx.ru "}).status_code == 200
    assert pbx.call(samples.W3["callid"])["pbx_user"] == "ivanov"


@pytest.mark.parametrize("user", ["pbx", "g_5b1c", " g_5b1c@vats1.megapbx.ru ", "ivr", ""])
def test_users_that_are_not_employees_are_credited_with_nothing(pbx, browser, user):
    """An off-hours call (`contact` and `history`, no events) through the PBX itself, a group
    or the IVR: the whole result in the dialog, and no one is its employee."""
    assert pbx.post({**samples.W2, "callid": samples.W10["callid"]}).status_code == 200
    assert pbx.post({**samples.W10, "phone": samples.MARIA, "user": user}).status_code == 200
    call = pbx.call(samples.W10["callid"])
    assert (call["status"], call["pbx_user"], call["direction"]) == ("Missed", "", "in")
    assert pbx.dialog_of(samples.MARIA) == ["megafon_call_status Missed", "megafon_missed_opened"]
    assert pbx.variables_of(samples.MARIA) == {
        "megafon_call_direction": "in",
        "megafon_call_id": samples.W10["callid"],
    }
    [item] = browser.run(_open_missed, pbx.project_id)
    assert item["phone"] == samples.MARIA and item["attempts"] == 1
    hook = protocol.parse({**samples.W3, "user": user, "ext": ""})
    browser.run(
        builders.manager,
        pbx.project_id,
        email="pbx@romashka.ru",
        call_method="megafon_api",
        pbx_user=user.strip() or "pbx",  # an admin typed what the PBX sent
    )
    assert browser.run(popups.rung_employees, pbx.project_id, hook) == []


async def _open_missed(db, project_id):
    from core.tables import missed_calls

    rows = await db.fetch_all(
        missed_calls.select().where(
            missed_calls.c.project_id == project_id, missed_calls.c.closed_at.is_(None)
        )
    )
    return [dict(r) for r in rows]


def test_a_transfer_with_an_overlong_phone_is_cut_not_a_500(pbx):
    """Found by test_webhook_fuzz on PostgreSQL: the second leg took the phone uncut."""
    assert pbx.post({**samples.W15, "phone": "7" * 60}).status_code == 200
    assert pbx.call("call-b")["phone"] == "7" * 40
