"""The incoming-call popup: whom an INCOMING rings, and when each popup closes."""

import pytest

from core import employees, events
from core.telephony import inbox
from tests.support import builders
from tests.support import megafon as samples

pytestmark = pytest.mark.anyio


@pytest.fixture
async def office(db):
    """Анна (no PBX login), Иван (`ivanov`), Пётр (`702`) and Мария calling."""
    ids = await builders.call_center(db)
    petr = await builders.manager(
        db,
        ids["project"],
        name="Пётр Сидоров",
        call_method=employees.CallMethod.MEGAFON,
        pbx_user="702",
    )
    users = {u["pbx_user"]: u["id"] for u in await employees.list_employees(db, ids["project"])}
    return {**ids, "ivan": users["ivanov"], "petr": petr["id"]}


async def ring(db, ids, event_type, **fields):
    base = {"cmd": "event", "type": event_type, "callid": "c1", "phone": samples.MARIA}
    await inbox.receive(db, ids["project"], {**base, **fields})


async def popups(db, ids):
    """Each topic's popup events so far, as (who, event name)."""
    who = {
        events.user_topic(ids["project"], ids["ivan"]): "ivan",
        events.user_topic(ids["project"], ids["petr"]): "petr",
        events.managers_topic(ids["project"]): "everyone",
    }
    found = []
    for topic, name in who.items():
        for event in await events.since(db, [topic], 0):
            if event.name in (events.CALL_INCOMING, events.CALL_ENDED):
                found.append((name, event.name))
    return sorted(found)


async def test_incoming_rings_the_employee_the_pbx_names_by_login(db, office):
    await ring(db, office, "INCOMING", user="ivanov@vats1.megapbx.ru")
    assert await popups(db, office) == [("ivan", events.CALL_INCOMING)]
    [event] = await events.since(db, [events.user_topic(office["project"], office["ivan"])], 0)
    assert event.data["client_id"] == office["maria"]
    assert event.data["phone"] == samples.MARIA


async def test_an_extension_or_a_direct_number_names_the_employee_too(db, office):
    await ring(db, office, "INCOMING", ext="702")
    assert await popups(db, office) == [("petr", events.CALL_INCOMING)]


async def test_a_call_for_no_one_we_know_rings_everyone(db, office):
    await ring(db, office, "INCOMING", user="reception")
    assert await popups(db, office) == [("everyone", events.CALL_INCOMING)]


async def test_a_repeated_incoming_opens_no_second_popup(db, office):
    await ring(db, office, "INCOMING", user="ivanov")
    await ring(db, office, "INCOMING", user="ivanov", ext="701")
    assert await popups(db, office) == [("ivan", events.CALL_INCOMING)]


async def test_a_group_calls_cancel_closes_only_the_popup_of_who_did_not_answer(db, office):
    await ring(db, office, "INCOMING", user="ivanov")
    await ring(db, office, "INCOMING", user="702")
    await ring(db, office, "CANCELLED", user="702")
    assert await popups(db, office) == [
        ("ivan", events.CALL_INCOMING),
        ("petr", events.CALL_ENDED),
        ("petr", events.CALL_INCOMING),
    ]
    await ring(db, office, "ACCEPTED", user="ivanov")
    assert ("ivan", events.CALL_ENDED) in await popups(db, office)


async def test_the_history_closes_every_popup_still_open(db, office):
    await ring(db, office, "INCOMING", user="reception")
    history = {"cmd": "history", "type": "in", "status": "Missed", "callid": "c1"}
    await inbox.receive(db, office["project"], {**history, "phone": samples.MARIA})
    assert await popups(db, office) == [
        ("everyone", events.CALL_ENDED),
        ("everyone", events.CALL_INCOMING),
    ]
