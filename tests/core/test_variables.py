import pytest

from core import variables
from core.errors import NotFound, ValidationError
from tests.support import builders

pytestmark = pytest.mark.anyio


async def test_variables_are_added_and_overwritten(db):
    admin = await builders.admin(db)
    client = await builders.client(db, admin["project_id"])
    await variables.set_variable(db, admin["project_id"], client["id"], "city", "Москва")
    await variables.set_variable(db, admin["project_id"], client["id"], "city", "Казань")
    await variables.set_variable(db, admin["project_id"], client["id"], "megafon_call_id", "abc")
    rows = await variables.list_variables(db, client["id"])
    assert [(r["name"], r["value"]) for r in rows] == [
        ("city", "Казань"),
        ("megafon_call_id", "abc"),
    ]
    assert rows[0]["updated_at"].tzinfo is not None


@pytest.mark.parametrize("name", ["", "1city", "with space", "x" * 101, "a-b"])
async def test_bad_variable_names_are_refused(db, name):
    admin = await builders.admin(db)
    client = await builders.client(db, admin["project_id"])
    with pytest.raises(ValidationError) as error:
        await variables.set_variable(db, admin["project_id"], client["id"], name, "v")
    assert "name" in error.value.errors


async def test_cyrillic_names_and_long_values_within_limits(db):
    admin = await builders.admin(db)
    client = await builders.client(db, admin["project_id"])
    await variables.set_variable(db, admin["project_id"], client["id"], "город", "я" * 10_000)
    with pytest.raises(ValidationError):
        await variables.set_variable(db, admin["project_id"], client["id"], "город", "я" * 10_001)


async def test_variables_of_another_projects_client_are_out_of_reach(db):
    ours = await builders.admin(db, project="Ромашка")
    theirs = await builders.admin(db, project="Лютик")
    client = await builders.client(db, theirs["project_id"])
    with pytest.raises(NotFound):
        await variables.set_variable(db, ours["project_id"], client["id"], "city", "Москва")
    with pytest.raises(NotFound):
        await variables.delete_variable(db, theirs["project_id"], client["id"], "nothing")


async def test_the_integrations_own_variables_are_not_searched(db):
    from core import clients

    admin = await builders.admin(db)
    pid = admin["project_id"]
    client = await builders.client(db, pid)
    await variables.set_variables(
        db, pid, client["id"], {"megafon_call_id": "zx81-call", "megafonish": "zx82-value"}
    )
    assert (await clients.find_clients(db, pid, "zx81")).clients == []
    assert len((await clients.find_clients(db, pid, "zx82")).clients) == 1


async def test_one_request_sets_at_most_50_variables_and_over_it_sets_none(db):
    admin = await builders.admin(db)
    client = await builders.client(db, admin["project_id"])
    fifty = {f"v{n}": "x" for n in range(50)}
    await variables.set_variables(db, admin["project_id"], client["id"], fifty)
    with pytest.raises(ValidationError) as refused:
        await variables.set_variables(
            db, admin["project_id"], client["id"], {f"w{n}": "x" for n in range(51)}
        )
    assert refused.value.errors == {
        "variables": "За один раз можно задать не больше 50 переменных, а задано 51."
    }
    assert len(await variables.list_variables(db, client["id"])) == 50


async def test_a_client_has_at_most_500_variables_besides_the_integrations(db):
    admin = await builders.admin(db)
    pid = admin["project_id"]
    client = await builders.client(db, pid)
    for batch in range(10):
        await variables.set_variables(
            db, pid, client["id"], {f"v{batch}_{n}": "x" for n in range(50)}
        )
    with pytest.raises(ValidationError) as refused:
        await variables.set_variables(db, pid, client["id"], {"one_more": "x", "v0_0": "y"})
    assert "больше 500 переменных" in refused.value.errors["variables"]
    # Nothing of the refused request was saved; overwriting and the calls' own still work.
    await variables.set_variables(db, pid, client["id"], {"v0_1": "z"})
    await variables.set_variables(db, pid, client["id"], {"megafon_call_id": "c1"})
    saved = {v["name"]: v["value"] for v in await variables.list_variables(db, client["id"])}
    assert len(saved) == 501 and "one_more" not in saved
    assert (saved["v0_0"], saved["v0_1"]) == ("x", "z")
