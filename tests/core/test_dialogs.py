import pytest

from core import dialogs
from core.errors import NotFound, ValidationError
from tests.support import builders

pytestmark = pytest.mark.anyio


async def test_the_dialog_shows_messages_in_time_order_newest_at_the_bottom(db):
    admin = await builders.admin(db)
    pid, client = admin["project_id"], await builders.client(db, admin["project_id"])
    await dialogs.add_message(db, pid, client["id"], dialogs.MessageKind.INCOMING, "Здравствуйте")
    await dialogs.add_message(
        db, pid, client["id"], dialogs.MessageKind.SYSTEM, "megafon_call_event ACCEPTED"
    )
    note = await dialogs.add_note(db, pid, client["id"], admin["id"], "  перезвонить завтра ")
    assert note["text"] == "перезвонить завтра" and note["author_name"] == admin["name"]
    page = await dialogs.dialog(db, pid, client["id"])
    assert [m["text"] for m in page.messages] == [
        "Здравствуйте",
        "megafon_call_event ACCEPTED",
        "перезвонить завтра",
    ]
    assert page.earlier_before is None


async def test_long_dialogs_load_earlier_pages(db):
    admin = await builders.admin(db)
    pid, client = admin["project_id"], await builders.client(db, admin["project_id"])
    for i in range(5):
        await dialogs.add_message(
            db, pid, client["id"], dialogs.MessageKind.INCOMING, f"сообщение {i}"
        )
    last = await dialogs.dialog(db, pid, client["id"], limit=2)
    assert [m["text"] for m in last.messages] == ["сообщение 3", "сообщение 4"]
    earlier = await dialogs.dialog(db, pid, client["id"], before=last.earlier_before, limit=2)
    assert [m["text"] for m in earlier.messages] == ["сообщение 1", "сообщение 2"]


async def test_empty_or_foreign_notes_are_refused(db):
    ours = await builders.admin(db, project="Ромашка")
    theirs = await builders.admin(db, project="Лютик")
    client = await builders.client(db, ours["project_id"])
    with pytest.raises(ValidationError):
        await dialogs.add_note(db, ours["project_id"], client["id"], ours["id"], "   ")
    with pytest.raises(NotFound):
        await dialogs.add_note(db, theirs["project_id"], client["id"], theirs["id"], "чужое")
