"""The PBX's employees as the CRM reads them: which PBX user an employee's field names, the
search under the form's field, and the matches proposed to an admin (the stored list, its
refreshing and the flags are in tests/web/test_pbx_employees.py, against our simulator)."""

import asyncio
import time
from datetime import timedelta

import pytest

from core.telephony import connection
from core.telephony.pbx_client import PbxUser
from core.telephony.pbx_directory import Directory, Reason, Refresher, propose, read, search
from tests.support import builders
from tests.support.pbx import simulated_pbx

ANNA = PbxUser("admin", "Анна Администратор", "700", "74950000700", "anna@romashka.ru")
IVANOV = PbxUser("ivanov", "Иван Иванов", "701", "74950000701", "ivanov@vats.example")
SIDOROVA = PbxUser("sidorova", "Мария Сидорова", "702", "74950000702", "")
FYODOR = PbxUser("fedor", "Фёдор Ёлкин", "703", "", "")
PBX = Directory(connected=True, users=[ANNA, IVANOV, SIDOROVA, FYODOR], fetched_at=None, error="")


def employee(n, name, email, pbx_user=None, active=True):
    method = "megafon_api" if pbx_user else "disabled"
    return {
        "id": n,
        "name": name,
        "email": email,
        "pbx_user": pbx_user,
        "call_method": method,
        "is_active": active,
    }


def test_an_employee_field_names_a_pbx_user_by_login_extension_or_direct_number():
    for written in ("ivanov", " IVANOV@vats123456.megapbx.ru ", "701", "74950000701"):
        assert PBX.find(written) == IVANOV, written
    assert PBX.find("84950000701") == IVANOV  # the number as a Russian phone dials it
    for written in ("petrov", "799", "", None):
        assert PBX.find(written) is None


def test_the_search_reads_names_in_any_order_case_and_with_yo_as_ye():
    assert search(PBX, "елкин федор") == [FYODOR]
    assert search(PBX, "СИДОР") == [SIDOROVA]
    assert search(PBX, "70") == [ANNA, IVANOV, SIDOROVA, FYODOR]
    assert search(PBX, "anna@romashka") == [ANNA]
    assert search(PBX, "") == PBX.users and search(PBX, "", limit=2) == [ANNA, IVANOV]
    assert search(PBX, "никто") == []


def test_matches_are_proposed_by_email_then_name_then_the_number_already_given():
    staff = [
        employee(1, "Анна Админова", "ANNA@romashka.ru"),  # e-mail, though the name differs
        employee(2, "Сидорова  мария", "maria@romashka.ru"),  # name, in another order
        employee(3, "Ёлкин Федор", "f@romashka.ru"),  # ё and е are one letter
        employee(4, "Ваня", "vanya@romashka.ru", pbx_user="701"),  # his extension
        employee(5, "Пётр Петров", "petrov@romashka.ru"),  # nobody on the PBX
        employee(6, "Отключённый", "anna@romashka.ru", active=False),
    ]
    proposals = {p.employee["id"]: (p.user, p.reason) for p in propose(staff, PBX)}
    assert proposals == {
        1: (ANNA, Reason.EMAIL),
        2: (SIDOROVA, Reason.NAME),
        3: (FYODOR, Reason.NAME),
        4: (IVANOV, Reason.NUMBER),
        5: (None, None),
    }


def test_a_pbx_user_is_proposed_once_and_an_ambiguous_name_not_at_all():
    twins = Directory(
        connected=True,
        users=[IVANOV, PbxUser("ivanov2", "Иван Иванов", "704")],
        fetched_at=None,
        error="",
    )
    staff = [
        employee(1, "Иван Иванов", "ivan@romashka.ru"),  # two «Иван Иванов» on the PBX
        employee(2, "Кто-то", "k@romashka.ru", pbx_user="ivanov@vats1.megapbx.ru"),
        employee(3, "Иван", "ivanov@vats.example"),  # his e-mail, but ivanov is taken
    ]
    proposals = {p.employee["id"]: (p.user, p.reason) for p in propose(staff, twins)}
    assert proposals == {1: (None, None), 2: (IVANOV, Reason.SAME), 3: (None, None)}


@pytest.mark.anyio
async def test_a_slow_pbx_keeps_a_page_waiting_briefly_and_a_failing_one_keeps_the_last_list(
    db, http
):
    admin = await builders.admin(db)
    project_id = admin["project_id"]
    with simulated_pbx() as pbx:
        refresher = Refresher(db, http, stale_after=timedelta(0), wait=0.3)
        assert not (await refresher.current(project_id)).connected  # no PBX: nothing to read
        await connection.save(db, project_id, pbx.token, pbx.url, allow_private=True)
        first = await refresher.current(project_id)
        assert [u.login for u in first.users] == ["admin", "ivanov", "sidorova"]  # by name
        assert first.fetched_at is not None and first.error == "" and not first.pending

        pbx.behave(delay=1.0)
        started = time.monotonic()
        slow = await refresher.current(project_id)
        assert time.monotonic() - started < 0.8
        assert slow.pending and slow.users == first.users
        deadline = time.monotonic() + 5
        while (await read(db, project_id)).fetched_at == first.fetched_at:
            assert time.monotonic() < deadline, "the reading in the background never ended"
            await asyncio.sleep(0.05)

        pbx.behave(delay=0, fail_status=502)
        failed = await refresher.now(project_id)
        assert failed.error.startswith("АТС ответила ошибкой (HTTP 502 Bad Gateway)")
        assert failed.users == first.users and failed.fetched_at > first.fetched_at
        await refresher.close()
