import pytest

from core import projects
from core.errors import ValidationError
from tests.support import builders

pytestmark = pytest.mark.anyio


async def test_a_regenerated_api_key_replaces_the_old_one_at_once(db):
    admin = await builders.admin(db)
    first = await projects.generate_api_key(db, admin["project_id"])
    assert (await projects.project_by_api_key(db, first))["id"] == admin["project_id"]
    second = await projects.generate_api_key(db, admin["project_id"])
    assert second != first and len(second) >= 32
    assert await projects.project_by_api_key(db, first) is None
    assert (await projects.project_by_api_key(db, second))["id"] == admin["project_id"]


@pytest.mark.parametrize("key", [None, "", "x" * 500, "' OR 1=1 --"])
async def test_no_key_or_a_made_up_key_opens_nothing(db, key):
    admin = await builders.admin(db)
    await projects.generate_api_key(db, admin["project_id"])
    assert await projects.project_by_api_key(db, key) is None


async def test_messengers_are_marked_connected_per_project(db):
    ours = await builders.admin(db, project="Ромашка")
    theirs = await builders.admin(db, project="Лютик")
    await projects.set_messengers(db, ours["project_id"], ["telegram", "whatsapp"])
    assert projects.connected_messengers(await projects.get_project(db, ours["project_id"])) == [
        "whatsapp",
        "telegram",
    ]
    assert projects.connected_messengers(await projects.get_project(db, theirs["project_id"])) == []
    with pytest.raises(ValidationError):
        await projects.set_messengers(db, ours["project_id"], ["icq"])
