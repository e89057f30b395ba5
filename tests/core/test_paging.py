"""Keyset paging: newest first, a cursor that continues the list, no cursor on the last page,
and pages that stay put while new rows arrive."""

import pytest
import sqlalchemy as sa

from core import dialogs, paging
from core.tables import messages
from tests.support import builders

pytestmark = pytest.mark.anyio


async def dialog_of(db, texts):
    """A client whose dialog holds `texts`, oldest first; a read of (id, text) pairs of it."""
    admin = await builders.admin(db)
    project = admin["project_id"]
    client = await builders.client(db, project)
    for text in texts:
        await dialogs.add_message(db, project, client["id"], dialogs.MessageKind.NOTE, text)

    async def page(before, limit):
        query = sa.select(messages.c.id, messages.c.text).where(
            messages.c.client_id == client["id"]
        )
        rows, cursor = await paging.newest_first(
            db, query, messages.c.id, before=before, limit=limit
        )
        return [row["text"] for row in rows], cursor

    return project, client["id"], page


async def test_pages_go_newest_first_and_the_cursor_continues_until_the_last_page(db):
    _, _, page = await dialog_of(db, [f"m{n}" for n in range(1, 8)])
    first, cursor = await page(None, 3)
    assert first == ["m7", "m6", "m5"]
    second, cursor = await page(cursor, 3)
    assert second == ["m4", "m3", "m2"]
    last, cursor = await page(cursor, 3)
    assert (last, cursor) == (["m1"], None)


async def test_a_last_page_that_is_exactly_full_has_no_cursor_to_an_empty_page(db):
    _, _, page = await dialog_of(db, [f"m{n}" for n in range(1, 7)])
    _, cursor = await page(None, 3)
    assert await page(cursor, 3) == (["m3", "m2", "m1"], None)
    assert await page(None, 6) == (["m6", "m5", "m4", "m3", "m2", "m1"], None)


async def test_an_empty_list_is_one_empty_page(db):
    _, _, page = await dialog_of(db, [])
    assert await page(None, 3) == ([], None)


async def test_rows_added_meanwhile_do_not_shift_the_next_pages(db):
    project, client_id, page = await dialog_of(db, [f"m{n}" for n in range(1, 6)])
    first, cursor = await page(None, 2)
    assert first == ["m5", "m4"]
    second_before = await page(cursor, 2)
    for text in ("new1", "new2", "new3"):
        await dialogs.add_message(db, project, client_id, dialogs.MessageKind.NOTE, text)
    second = await page(cursor, 2)
    assert second == second_before
    assert second[0] == ["m3", "m2"]
    assert await page(second[1], 2) == (["m1"], None)
    # Only a fresh first page shows what arrived.
    assert (await page(None, 2))[0] == ["new3", "new2"]
