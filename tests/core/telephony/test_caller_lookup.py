"""The PBX's «who is calling?» (`cmd=contact`): the client's name and whom the call goes to."""

import pytest

from core import matching
from core.telephony import caller_lookup
from tests.support import builders

pytestmark = pytest.mark.anyio


async def test_contact_answers_the_name_and_the_responsible_pbx_login(db):
    admin = await builders.admin(db)
    pid = admin["project_id"]
    ivan = await builders.manager(
        db, pid, call_method="megafon_api", pbx_user="ivanov@vats1.megapbx.ru"
    )
    await builders.client(db, pid, name="ООО Ромашка, Иван Петров", responsible_id=ivan["id"])
    assert await caller_lookup.who_is_calling(db, pid, "79161234567") == {
        "contact_name": "ООО Ромашка, Иван Петров",
        "responsible": "ivanov",  # the bare login the PBX's own lists show (PROTOCOL.md §6.1)
    }


async def test_contact_for_an_unknown_or_unreachable_responsible(db):
    admin = await builders.admin(db)
    pid = admin["project_id"]
    assert await caller_lookup.who_is_calling(db, pid, "79161234567") == {}
    assert await caller_lookup.who_is_calling(db, pid, "701") == {}
    no_pbx = await builders.manager(db, pid, call_method="app")
    await builders.client(db, pid, name="", responsible_id=no_pbx["id"])
    assert await caller_lookup.who_is_calling(db, pid, "89161234567") == {
        "contact_name": "+7 916 123-45-67"
    }
    # Answering creates nobody.
    assert await caller_lookup.who_is_calling(db, pid, "79031112233") == {}
    assert await matching.find_client(db, pid, "79031112233") is None


async def test_the_answer_is_an_index_search(db):
    """No lookup while the phone rings scans clients or employees (the 1,000,000 promise)."""
    if db.dialect != "sqlite":
        pytest.skip("SQLite's EXPLAIN QUERY PLAN is the one read here")
    admin = await builders.admin(db)
    await builders.client(db, admin["project_id"])
    plan = await db.query_plan(caller_lookup._CONTACT, {"p_client": 1})
    assert all(step.strip().startswith("SEARCH") for step in plan.split("|")), plan
