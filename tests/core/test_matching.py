"""«Как происходит сопоставление клиента»: which client a phone number belongs to."""

import pytest

from core import matching, projects, variables
from tests.support import builders

pytestmark = pytest.mark.anyio

SPELLINGS = [
    "8 (916) 123-45-67",
    "+7 916 123 45 67",
    "+7(916)123-45-67",
    "89161234567",
    "7 916 123-45-67",
    "8-916-123-45-67",
]


async def test_the_telephony_client_with_that_phone_comes_first(db):
    admin = await builders.admin(db)
    pid = admin["project_id"]
    whatsapp = await builders.client(db, pid, phone="+79161234567", client_type="whatsapp")
    telephony = await builders.client(db, pid, phone="8 916 123-45-67")
    assert whatsapp["id"] < telephony["id"]
    assert await matching.match_or_create(db, pid, "79161234567") == telephony["id"]


@pytest.mark.parametrize("written", SPELLINGS)
async def test_a_number_in_a_variable_matches_in_any_common_format(db, written):
    admin = await builders.admin(db)
    pid = admin["project_id"]
    client = await builders.client(db, pid, name="ООО Ромашка", phone="+7 903 000-00-00")
    await variables.set_variable(db, pid, client["id"], "contact_phone", f"моб. {written}")
    for pbx_spelling in ("79161234567", "89161234567"):
        assert await matching.match_or_create(db, pid, pbx_spelling) == client["id"]


@pytest.mark.parametrize("written", SPELLINGS)
async def test_a_messenger_clients_phone_in_any_format_matches(db, written):
    admin = await builders.admin(db)
    client = await builders.client(db, admin["project_id"], phone=written, client_type="telegram")
    assert await matching.match_or_create(db, admin["project_id"], "79161234567") == client["id"]


async def test_the_oldest_of_several_variable_matches_wins(db):
    admin = await builders.admin(db)
    pid = admin["project_id"]
    first = await builders.client(
        db, pid, name="Первый", phone="+7 903 000-00-01", client_type="vk"
    )
    second = await builders.client(
        db, pid, name="Второй", phone="+7 903 000-00-02", client_type="vk"
    )
    for client in (second, first):
        await variables.set_variable(db, pid, client["id"], "phone2", "+7 916 123-45-67")
    assert await matching.match_or_create(db, pid, "79161234567") == first["id"]


async def test_an_unknown_number_creates_a_telephony_client_or_whatsapp_with_messengers(db):
    admin = await builders.admin(db)
    pid = admin["project_id"]
    created = await matching.match_or_create(db, pid, "79161234567")
    assert (await builders_client(db, pid, created))["client_type"] == "telephony"
    await projects.set_messengers(db, pid, ["telegram"])
    other = await matching.match_or_create(db, pid, "79161234568")
    assert (await builders_client(db, pid, other))["client_type"] == "whatsapp"
    assert await matching.match_or_create(db, pid, "79161234568") == other


async def builders_client(db, pid, client_id):
    from core.clients import get_client

    return await get_client(db, pid, client_id)


@pytest.mark.parametrize("short", ["701", "", "pbx", "0", "123456"])
async def test_short_internal_numbers_never_create_clients(db, short):
    admin = await builders.admin(db)
    assert await matching.match_or_create(db, admin["project_id"], short) is None


async def test_clients_of_other_projects_are_never_matched(db):
    ours = await builders.admin(db, project="Ромашка")
    theirs = await builders.admin(db, project="Лютик")
    foreign = await builders.client(db, theirs["project_id"])
    found = await matching.match_or_create(db, ours["project_id"], "79161234567")
    assert found != foreign["id"]


async def test_every_matching_lookup_is_an_index_search(db):
    """No lookup while the phone rings scans clients or variables (the 1,000,000 promise)."""
    if db.dialect != "sqlite":
        pytest.skip("SQLite's EXPLAIN QUERY PLAN is the one read here")
    admin = await builders.admin(db)
    await builders.client(db, admin["project_id"])
    key = {"p_project": admin["project_id"], "p_phone": "79161234567", "p_client": 1}
    for statement in (matching._TELEPHONY, matching._BY_TERM):
        plan = await db.query_plan(statement, key)
        assert all(step.strip().startswith("SEARCH") for step in plan.split("|")), plan
