import pytest
import sqlalchemy as sa

from core import clients, variables
from core.errors import NotFound, ValidationError
from tests.support import builders

pytestmark = pytest.mark.anyio


async def test_a_client_is_stored_with_the_canonical_phone(db):
    admin = await builders.admin(db)
    client = await builders.client(db, admin["project_id"], phone="8 (916) 123-45-67")
    assert client["phone"] == "79161234567"
    assert client["client_type"] == "telephony"


async def test_bad_input_gets_a_message_per_field_and_stores_nothing(db):
    admin = await builders.admin(db)
    with pytest.raises(ValidationError) as error:
        await clients.create_client(
            db, admin["project_id"], clients.ClientInput(name="", phone="12", client_type="fax")
        )
    assert set(error.value.errors) >= {"phone", "client_type"}
    assert (await clients.find_clients(db, admin["project_id"])).clients == []


async def test_a_telephony_client_needs_a_phone(db):
    admin = await builders.admin(db)
    with pytest.raises(ValidationError) as error:
        await clients.create_client(db, admin["project_id"], clients.ClientInput(name="Без номера"))
    assert "phone" in error.value.errors
    telegram = clients.ClientInput(name="Без номера", client_type="telegram")
    assert await clients.create_client(db, admin["project_id"], telegram)


async def test_the_responsible_employee_must_belong_to_the_project(db):
    ours = await builders.admin(db, project="Ромашка")
    theirs = await builders.admin(db, project="Лютик")
    with pytest.raises(ValidationError) as error:
        await builders.client(db, ours["project_id"], responsible_id=theirs["id"])
    assert "responsible_id" in error.value.errors


@pytest.mark.parametrize(
    "query",
    ["+79161234567", "8 (916) 123-45-67", "8916", "79161234567", "мария", "ИВАН", "Мария Ив"],
)
async def test_search_finds_by_name_or_phone_in_any_format(db, query):
    admin = await builders.admin(db)
    maria = await builders.client(db, admin["project_id"], name="Мария Иванова")
    await builders.client(db, admin["project_id"], name="Пётр Сидоров", phone="+7 903 000-00-01")
    found = await clients.find_clients(db, admin["project_id"], query)
    assert [c["id"] for c in found.clients] == [maria["id"]]


async def test_search_finds_by_variable_values_and_numbers_written_in_them(db):
    admin = await builders.admin(db)
    pid = admin["project_id"]
    client = await builders.client(db, pid)
    await variables.set_variables(
        db,
        pid,
        client["id"],
        {"company": "ООО Ромашка", "second_phone": "рабочий 8 (495) 123-45-67"},
    )
    for query in ["ромашка", "ооо ром", "+74951234567", "8 495 123-45-67"]:
        found = await clients.find_clients(db, pid, query)
        assert [c["id"] for c in found.clients] == [client["id"]], query
    await variables.delete_variable(db, pid, client["id"], "company")
    assert (await clients.find_clients(db, pid, "ромашка")).clients == []


async def test_ё_and_е_are_the_same_letter_in_search(db):
    admin = await builders.admin(db)
    await builders.client(db, admin["project_id"], name="Пётр Ёлкин")
    assert len((await clients.find_clients(db, admin["project_id"], "петр елкин")).clients) == 1


async def test_a_user_sees_only_their_projects_clients(db):
    ours = await builders.admin(db, project="Ромашка")
    theirs = await builders.admin(db, project="Лютик")
    other = await builders.client(db, theirs["project_id"], name="Чужой Клиент")
    assert (await clients.find_clients(db, ours["project_id"], "чужой")).clients == []
    assert (await clients.find_clients(db, ours["project_id"])).clients == []
    with pytest.raises(NotFound):
        await clients.get_client(db, ours["project_id"], other["id"])


async def test_the_list_pages_newest_first_without_gaps_or_repeats(db):
    admin = await builders.admin(db)
    pid = admin["project_id"]
    made = [
        (await builders.client(db, pid, name=f"Клиент {i}", phone=f"+7 916 000-00-{i:02d}"))["id"]
        for i in range(7)
    ]
    seen, before = [], None
    for _ in range(len(made)):  # pages that never end are a failure, not a hang
        page = await clients.find_clients(db, pid, before=before, limit=3)
        seen += [c["id"] for c in page.clients]
        if page.next_before is None:
            break
        before = page.next_before
    else:
        raise AssertionError(f"still more pages after {len(made)}")
    assert seen == sorted(made, reverse=True)
    searched = await clients.find_clients(db, pid, "клиент", limit=3)
    assert len(searched.clients) == 3 and searched.next_before is not None


async def test_editing_a_client_refreshes_what_it_is_found_by(db):
    admin = await builders.admin(db)
    pid = admin["project_id"]
    client = await builders.client(db, pid, name="Старое Имя")
    await clients.update_client(
        db, pid, client["id"], clients.ClientInput(name="Новое Имя", phone="+7 903 111-22-33")
    )
    assert (await clients.find_clients(db, pid, "старое")).clients == []
    assert len((await clients.find_clients(db, pid, "89031112233")).clients) == 1


async def test_search_is_an_index_range_never_a_scan_of_clients(db):
    """The query plan for a search and a listing uses indexes only (the million-client promise)."""
    if db.dialect != "sqlite":
        pytest.skip("SQLite's EXPLAIN QUERY PLAN is the one read here")
    admin = await builders.admin(db)
    await builders.client(db, admin["project_id"])
    plans = []
    for sql in [
        "SELECT DISTINCT client_id FROM search_terms WHERE project_id = 1 AND term >= 'ма' "
        "AND term < 'мб' ORDER BY client_id DESC LIMIT 51",
        "SELECT * FROM clients WHERE project_id = 1 AND id < 100 ORDER BY id DESC LIMIT 51",
    ]:
        rows = await db.fetch_all(sa.text("EXPLAIN QUERY PLAN " + sql))
        plans.append(" | ".join(r["detail"] for r in rows))
    for plan in plans:
        assert "USING" in plan and "INDEX" in plan, plan
        assert not any(
            part.strip().startswith("SCAN clients") and "INDEX" not in part
            for part in plan.split("|")
        ), plan
