import pytest

from core import callbacks, dialogs, variables
from core.errors import NotFound, ValidationError
from tests.support import builders

pytestmark = pytest.mark.anyio


async def test_a_callback_by_phone_lands_in_the_dialog_with_extra_params_as_variables(db):
    admin = await builders.admin(db)
    client = await builders.client(db, admin["project_id"], phone="+7 916 123-45-67")
    message = await callbacks.callback(
        db,
        admin["project_id"],
        {"client_phone": "8 (916) 123-45-67", "message": "оплата получена", "order": "A-17"},
    )
    assert message["client_id"] == client["id"] and message["kind"] == dialogs.MessageKind.SYSTEM
    assert {v["name"]: v["value"] for v in await variables.list_variables(db, client["id"])} == {
        "order": "A-17"
    }


async def test_a_callback_names_what_is_missing(db):
    admin = await builders.admin(db)
    with pytest.raises(ValidationError):
        await callbacks.callback(db, admin["project_id"], {"client_phone": "79161234567"})
    with pytest.raises(ValidationError):
        await callbacks.callback(db, admin["project_id"], {"message": "hi"})
    with pytest.raises(NotFound):
        await callbacks.callback(
            db, admin["project_id"], {"client_phone": "79161234567", "message": "hi"}
        )


async def test_client_phone_finds_the_client_the_way_calls_do(db):
    admin = await builders.admin(db)
    client = await builders.client(
        db, admin["project_id"], phone="+7 903 000-00-01", client_type="vk"
    )
    await variables.set_variable(db, admin["project_id"], client["id"], "work", "8 (916) 123-45-67")
    message = await callbacks.callback(
        db, admin["project_id"], {"client_phone": "+79161234567", "message": "перезвонить"}
    )
    assert message["client_id"] == client["id"]


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({f"v{n}": "x" for n in range(51)}, "variables"),
        ({"comment": "я" * 10_001}, "value"),
        ({"megafon_call_id": "forged"}, "megafon_call_id"),
    ],
)
async def test_a_callback_over_the_limits_writes_nothing(db, extra, field):
    admin = await builders.admin(db)
    client = await builders.client(db, admin["project_id"])
    with pytest.raises(ValidationError) as refused:
        await callbacks.callback(
            db, admin["project_id"], {"client_id": str(client["id"]), "message": "hi", **extra}
        )
    assert field in refused.value.errors
    assert await variables.list_variables(db, client["id"]) == []
    assert (await dialogs.dialog(db, admin["project_id"], client["id"])).messages == []
