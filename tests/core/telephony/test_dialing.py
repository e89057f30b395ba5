"""Calls from the CRM against our PBX simulator: the blue handset refuses in plain words when it
cannot call, rings the employee then the client when it can, never starts a second call for a
repeat within 20 seconds, and tells the card how the call goes."""

import asyncio
from datetime import timedelta

import pytest
import sqlalchemy as sa

from core import clients, clock, employees, events
from core.errors import Conflict, ValidationError
from core.tables import call_requests, users
from core.telephony import calls, connection, dialing
from core.telephony.pbx_client import PbxFailed, PbxNotConnected
from tests.support import builders
from tests.support.pbx import TOKEN

pytestmark = pytest.mark.anyio
MARIA = "79265550101"


@pytest.fixture
async def office(db, pbx):
    """The admin Анна, the manager Иван (`ivanov` on the PBX, «Звонки по API Megafon»), the
    client Мария on +7 926 555-01-01; MegaFon connected to the simulator."""
    admin = await builders.admin(db, email="anna@romashka.ru")
    project = admin["project_id"]
    ivan = await builders.manager(
        db, project, call_method=employees.CallMethod.MEGAFON, pbx_user="ivanov"
    )
    maria = await builders.client(db, project, phone="+7 926 555-01-01")
    await connection.save(db, project, TOKEN, pbx.url, allow_private=True)
    return {"project": project, "admin": admin, "ivan": ivan, "maria": maria}


async def requests_made(db):
    return await db.fetch_all(sa.select(call_requests).order_by(call_requests.c.id))


@pytest.mark.parametrize(
    "call_method, refusal",
    [
        (employees.CallMethod.DISABLED, "Звонки по API Megafon не включены для вас"),
        (employees.CallMethod.APP, "Звонки по API Megafon не включены для вас"),
    ],
)
async def test_the_handset_says_why_an_employee_without_megafon_calls_cannot_call(
    db, http, pbx, office, call_method, refusal
):
    employee = await builders.manager(db, office["project"], call_method=call_method)
    with pytest.raises(Conflict) as refused:
        await dialing.call_from_card(db, http, employee, office["maria"])
    assert refusal in refused.value.message
    assert "администратор" in refused.value.message  # and who can change that
    assert pbx.calls() == [] and await requests_made(db) == []


async def test_the_handset_says_an_employee_has_no_pbx_login_yet(db, http, pbx, office):
    ivan = office["ivan"]
    # The employee form never saves such a row, but the handset does not rely on that.
    await db.execute(users.update().where(users.c.id == ivan["id"]).values(pbx_user=None))
    without_login = await employees.get_employee(db, office["project"], ivan["id"])
    with pytest.raises(Conflict) as refused:
        await dialing.call_from_card(db, http, without_login, office["maria"])
    assert "не указан логин, внутренний или прямой номер в АТС" in refused.value.message
    assert "администратор" in refused.value.message
    assert pbx.calls() == [] and await requests_made(db) == []


async def test_the_handset_refuses_a_client_without_a_phone(db, http, pbx, office):
    telegram = await builders.client(
        db, office["project"], name="Пётр", phone="", client_type=clients.ClientType.TELEGRAM
    )
    with pytest.raises(Conflict, match="У клиента нет номера телефона"):
        await dialing.call_from_card(db, http, office["ivan"], telegram)
    assert pbx.calls() == []


async def test_the_handset_refuses_while_megafon_is_not_connected(db, http, pbx, office):
    await connection.disconnect(db, office["project"])
    with pytest.raises(PbxNotConnected, match="Администратор подключает её в разделе"):
        await dialing.call_from_card(db, http, office["ivan"], office["maria"])
    assert pbx.calls() == [] and await requests_made(db) == []


async def test_the_handset_rings_the_employee_then_the_client_and_the_card_hears_of_it(
    db, http, pbx, office
):
    project, ivan, maria = office["project"], office["ivan"], office["maria"]
    started = await dialing.call_from_card(db, http, ivan, maria)
    [placed] = pbx.calls()
    assert (placed["user"], placed["phone"], placed["api"]) == ("ivanov", MARIA, "rest")
    assert (started.callid, started.state, started.repeated) == (
        placed["callid"],
        dialing.RequestState.OK,
        False,
    )

    stored = await dialing.get_request(db, project, started.id)
    assert stored["source"] == dialing.CallSource.CARD
    assert (stored["user_id"], stored["client_id"]) == (ivan["id"], maria["id"])
    assert (stored["pbx_user"], stored["phone"], stored["error"]) == ("ivanov", MARIA, "")
    assert await dialing.get_request(db, project + 1, started.id) is None  # not another's

    call = await dialing.call_of_request(db, project, stored)
    assert (call["client_id"], call["phone"], call["direction"], call["pbx_user"]) == (
        maria["id"],
        MARIA,
        "out",
        "ivanov",
    )
    heard = await events.since(db, [events.client_topic(project, maria["id"])], 0)
    assert events.CALL_UPDATED in [e.name for e in heard]
    assert (await connection.get(db, project))["api"] == "rest"  # asked straight next time


async def test_a_repeat_within_20_seconds_starts_no_second_call(db, http, pbx, office):
    ivan, maria = office["ivan"], office["maria"]
    first = await dialing.call_from_card(db, http, ivan, maria)
    again = await dialing.call_from_card(db, http, ivan, maria)
    assert again.repeated
    assert (again.id, again.callid, again.state) == (first.id, first.callid, first.state)
    assert len(pbx.calls()) == 1 and len(await requests_made(db)) == 1


async def test_a_double_click_starts_one_call(db, http, pbx, office):
    clicks = [dialing.call_from_card(db, http, office["ivan"], office["maria"]) for _ in range(3)]
    started = await asyncio.wait_for(asyncio.gather(*clicks), 10)
    assert len({s.id for s in started}) == 1
    assert sorted(s.repeated for s in started) == [False, True, True]
    assert len(pbx.calls()) == 1


async def test_after_20_seconds_the_same_call_can_be_made_again(db, http, pbx, office, monkeypatch):
    first = await dialing.call_from_card(db, http, office["ivan"], office["maria"])
    later = clock.now() + dialing.REPEAT_WINDOW + timedelta(seconds=1)
    monkeypatch.setattr(clock, "now", lambda: later)
    second = await dialing.call_from_card(db, http, office["ivan"], office["maria"])
    assert not second.repeated and second.id != first.id
    assert len(pbx.calls()) == 2


async def test_another_number_or_employee_is_not_a_repeat(db, http, pbx, office):
    project = office["project"]
    await dialing.call_from_card(db, http, office["ivan"], office["maria"])
    other = await builders.client(db, project, name="Ольга", phone="+7 926 555-01-02")
    sidorova = await builders.manager(
        db, project, call_method=employees.CallMethod.MEGAFON, pbx_user="sidorova"
    )
    assert not (await dialing.call_from_card(db, http, office["ivan"], other)).repeated
    assert not (await dialing.call_from_card(db, http, sidorova, office["maria"])).repeated
    assert [(c["user"], c["phone"]) for c in pbx.calls()] == [
        ("ivanov", MARIA),
        ("ivanov", "79265550102"),
        ("sidorova", MARIA),
    ]


async def test_a_refused_request_is_kept_with_its_reason_and_may_be_tried_again_at_once(
    db, http, pbx, office
):
    project = office["project"]
    pbx.behave(fail_status=500)
    with pytest.raises(PbxFailed, match=r"АТС ответила ошибкой \(HTTP 500") as failed:
        await dialing.call_from_card(db, http, office["ivan"], office["maria"])
    [stored] = await requests_made(db)
    assert stored["state"] == dialing.RequestState.FAILED
    assert stored["error"] == failed.value.message
    assert dialing.progress(stored, None) == (failed.value.message, True)

    pbx.behave(fail_status=0)
    retried = await dialing.call_from_card(db, http, office["ivan"], office["maria"])
    assert not retried.repeated and retried.state == dialing.RequestState.OK
    assert len(pbx.calls()) == 1
    assert (await dialing.get_request(db, project, retried.id))["state"] == "ok"


async def test_a_call_needs_an_employee_login_and_a_client_number(db, http, pbx, office):
    with pytest.raises(ValidationError) as refused:
        await dialing.make_call(
            db, http, office["project"], pbx_user=" ", phone="12", source=dialing.CallSource.API
        )
    assert set(refused.value.errors) == {"user", "client_phone"}
    with pytest.raises(ValidationError) as spaced:
        await dialing.make_call(
            db,
            http,
            office["project"],
            pbx_user="ivan ov",
            phone=MARIA,
            source=dialing.CallSource.API,
        )
    assert "без пробелов" in spaced.value.errors["user"]
    assert pbx.calls() == [] and await requests_made(db) == []


async def test_the_card_follows_the_call_from_ringing_to_its_outcome(db, http, pbx, office):
    project = office["project"]
    started = await dialing.call_from_card(db, http, office["ivan"], office["maria"])
    stored = await dialing.get_request(db, project, started.id)

    async def progress():
        return dialing.progress(stored, await dialing.call_of_request(db, project, stored))

    assert await progress() == ("АТС звонит вам, затем клиенту", False)
    call = await calls.find_call(db, project, started.callid)
    await calls.update_call(db, call["id"], {"last_event": "ACCEPTED"})
    assert await progress() == ("Разговор", False)
    await calls.update_call(db, call["id"], {"last_event": "COMPLETED", "status": "Missed"})
    assert await progress() == ("Звонок завершён: Пропущенный", True)


async def test_a_request_the_pbx_gave_no_call_id_has_no_call_to_follow(db, office):
    project = office["project"]
    request_id = await db.execute(
        call_requests.insert().values(
            project_id=project,
            source=dialing.CallSource.API,
            pbx_user="ivanov",
            phone=MARIA,
            state=dialing.RequestState.OK,
            created_at=clock.now(),
        )
    )
    stored = await dialing.get_request(db, project, request_id)
    assert await dialing.call_of_request(db, project, stored) is None
    assert dialing.progress(stored, None) == ("АТС звонит вам, затем клиенту", False)
