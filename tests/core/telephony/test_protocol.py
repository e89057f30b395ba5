"""Reading the PBX's webhooks: what a valid one means, and every reason one is refused."""

from datetime import UTC, datetime

import pytest

from core.telephony import protocol
from core.telephony.protocol import InvalidWebhook
from tests.support import megafon as samples


@pytest.mark.parametrize("name", sorted(samples.ALL))
def test_every_sample_of_the_protocol_is_read(name):
    hook = protocol.parse(samples.ALL[name])
    assert hook.cmd == samples.ALL[name]["cmd"]
    assert hook.fields == samples.ALL[name]


def test_an_incoming_event_names_the_call_the_caller_and_whom_it_rings():
    hook = protocol.parse(samples.W3)
    assert hook.cmd == "event"
    assert hook.event_type == "INCOMING"
    assert hook.direction == "in"
    assert hook.callid == "59a8ce80-541d-4340-b123-3035bb9469ff"
    assert hook.phone == "79265550101"
    assert (hook.user, hook.ext, hook.group_name) == ("ivanov", "701", "Отдел продаж")
    assert (hook.telnum, hook.diversion) == ("74959998877", "74951234567")


def test_a_history_tells_how_the_call_ended():
    hook = protocol.parse(
        {
            "cmd": "history",
            "type": "out",
            "status": "Success",
            "callid": "c1",
            "phone": "79265550101",
            "start": "20240315T211512Z",
            "duration": "184",
            "wait": "7",
            "link": "https://records.example/c1.mp3",
        }
    )
    assert (hook.status, hook.direction) == ("Success", "out")
    assert hook.start == datetime(2024, 3, 15, 21, 15, 12, tzinfo=UTC)  # 24-hour clock
    assert (hook.duration, hook.wait, hook.link) == (184, 7, "https://records.example/c1.mp3")


@pytest.mark.parametrize(
    ("sent", "status"),
    [
        ("missed", "Missed"),  # some accounts send statuses lowercase
        ("MISSED", "Missed"),
        ("no_answer", "Missed"),  # the REST API's spelling
        ("notavailable", "NotAvailable"),
        ("not_available", "NotAvailable"),
        ("cancelled", "Cancel"),
        ("Busy", "Busy"),
    ],
)
def test_a_status_is_read_in_any_case_and_in_the_rest_apis_spelling(sent, status):
    fields = {"cmd": "history", "type": "in", "status": sent, "callid": "c1", "phone": "7916"}
    assert protocol.parse(fields).status == status


def test_commands_and_event_types_are_read_in_any_case():
    hook = protocol.parse({"cmd": "EVENT", "type": "accepted", "callid": "c1", "phone": "7916"})
    assert (hook.cmd, hook.event_type) == ("event", "ACCEPTED")


def test_an_event_without_a_direction_gets_the_one_its_type_implies():
    def direction(event_type):
        fields = {"cmd": "event", "type": event_type, "callid": "c1", "phone": "7916"}
        return protocol.parse(fields).direction

    assert direction("INCOMING") == "in"
    assert direction("OUTGOING") == "out"
    assert not direction("ACCEPTED")  # untold


def test_the_pbx_login_loses_its_domain_and_case():
    fields = {"cmd": "event", "type": "ACCEPTED", "callid": "c1", "phone": "7916"}
    hook = protocol.parse({**fields, "user": " Ivanov@vats123456.megapbx.ru "})
    assert hook.user == "ivanov"


def test_unknown_fields_are_kept_and_a_link_that_is_no_web_address_is_not_followed():
    hook = protocol.parse({**samples.W2, "z-flag": "1", "link": "javascript:alert(1)"})
    assert hook.extra == {"telnum_name": "Реклама Яндекс", "z-flag": "1"}
    assert hook.link == ""
    assert hook.fields["link"] == "javascript:alert(1)"  # still in the raw payload


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({}, {"cmd"}),
        ({"cmd": "hangup"}, {"cmd"}),
        ({"cmd": "contact"}, {"phone"}),
        ({"cmd": "event", "phone": "7916"}, {"type", "callid"}),
        ({"cmd": "history", "type": "in", "callid": "c", "phone": "7"}, {"status"}),
        ({"cmd": "history", "status": "Success", "phone": "7"}, {"callid"}),
        ({"cmd": "history", "status": "Success", "callid": "c"}, {"phone"}),
        ({**samples.W5, "start": "15.03.2024 12:15"}, {"start"}),
        # no call began then, and Moscow's time of it would be past what `datetime` holds
        ({**samples.W5, "start": "99991231T235959Z"}, {"start"}),
        ({**samples.W5, "start": "00010101T000000Z"}, {"start"}),
        ({**samples.W5, "duration": "-3"}, {"duration"}),
        ({**samples.W5, "wait": "soon"}, {"wait"}),
        ({"cmd": "rating", "callid": "c1", "rating": "101"}, {"rating"}),
        ({**samples.W5, "callid": "c" * 201}, {"callid"}),
        ({**samples.W5, "telnum_name": "x" * 2001}, {"telnum_name"}),
        ({**samples.W5, "user": "iva\x00nov"}, {"user"}),
    ],
)
def test_a_webhook_that_cannot_be_read_is_refused_naming_each_problem(fields, errors):
    with pytest.raises(InvalidWebhook) as refused:
        protocol.parse(fields)
    assert set(refused.value.errors) == errors


def test_a_word_the_crm_does_not_know_is_kept_never_refused():
    """Statuses and event types have grown over the years (PROTOCOL.md §6.1): an unknown one
    is kept as sent for the fallback to apply, an unknown direction is untold."""
    history = {"cmd": "history", "callid": "c", "phone": "7916"}
    hook = protocol.parse({**history, "type": "sideways", "status": "Rejected"})
    assert (hook.status, hook.status_raw, hook.direction) == (None, "Rejected", None)
    assert protocol.parse({**history, "status": "Success"}).direction is None  # type untold
    event = {"cmd": "event", "callid": "c1", "phone": "7916"}
    hook = protocol.parse({**event, "type": "RINGING", "direction": "up"})
    assert (hook.event_type, hook.event_raw, hook.direction) == (None, "RINGING", None)
    assert protocol.parse({**event, "type": "RINGING"}).dedupe_key == "event:c1:RINGING"
    assert protocol.parse({**event, "type": "INCOMING", "direction": "up"}).direction == "in"


@pytest.mark.parametrize(
    ("duration", "direction", "status"),
    [(12, "in", "Success"), (12, "out", "Success"), (0, "in", "Missed"), (None, "out", "Cancel")],
)
def test_an_unknown_status_falls_back_to_whether_anyone_talked(duration, direction, status):
    assert protocol.fallback_status(duration, protocol.Direction(direction)) == status


@pytest.mark.parametrize(
    ("sent", "person"),
    [
        (" ivanov@vats1.megapbx.ru ", "ivanov"),
        ("74950000701", "74950000701"),
        ("pbx", ""),
        ("IVR", ""),
        ("fax", ""),
        ("g_5b1c", ""),
        (" g_5b1c@vats1.megapbx.ru", ""),
        ("", ""),
    ],
)
def test_only_a_user_that_is_an_employee_is_kept(sent, person):
    fields = {"cmd": "event", "type": "INCOMING", "callid": "c1", "phone": "7916", "user": sent}
    assert protocol.parse(fields).user == person
    assert protocol.parse(fields).fields["user"] == sent  # the raw payload keeps it


def test_the_crm_tells_the_pbx_the_bare_login():
    assert protocol.bare_login(" Ivanov@vats1.megapbx.ru ") == "Ivanov"
    assert protocol.bare_login("701") == "701"


def test_repeated_deliveries_share_a_key_and_a_group_calls_rings_do_not():
    def key(**fields):
        base = {"cmd": "event", "type": "INCOMING", "callid": "c1", "phone": "7916"}
        return protocol.parse({**base, **fields}).dedupe_key

    assert key(user="ivanov") == key(user="ivanov@vats1.megapbx.ru")
    assert key(user="ivanov") != key(user="petrov")  # each employee of a group is rung
    assert key(type="ACCEPTED", user="ivanov") == key(type="ACCEPTED", user="petrov")
    history = {"cmd": "history", "type": "in", "callid": "c1", "phone": "7916"}
    # The same history again is a repeat; another one for the call is not (its content
    # differs, notifications.apply decides what it may still add).
    same = [protocol.parse({**history, "status": s}).dedupe_key for s in ("Success", " Success")]
    assert same[0] == same[1]
    assert (
        protocol.parse({**history, "status": "Success"}).dedupe_key
        != protocol.parse({**history, "status": "Success", "link": "https://r/1.mp3"}).dedupe_key
    )
    assert protocol.parse(samples.W1).dedupe_key is None  # a question is never a repeat
