import asyncio

import pytest
import sqlalchemy as sa

from core import clients
from core.migrations import available, migrate
from tests.support import builders

pytestmark = pytest.mark.anyio


async def test_migrations_are_recorded_and_applied_once(db):
    versions = [m.VERSION for m in available()]
    rows = await db.fetch_all(sa.text("SELECT version FROM schema_migrations ORDER BY version"))
    assert [r["version"] for r in rows] == versions
    assert await migrate(db) == []


async def test_a_failed_transaction_leaves_nothing_behind(db):
    admin = await builders.admin(db)
    with pytest.raises(RuntimeError):
        async with db.transaction():
            await builders.client(db, admin["project_id"], name="Призрак")
            raise RuntimeError("boom")
    assert (await clients.find_clients(db, admin["project_id"], "призрак")).clients == []


async def test_many_concurrent_writers_all_succeed(db):
    """200 clients created at once: no 'database is locked', nothing lost."""
    admin = await builders.admin(db)
    await asyncio.gather(
        *(
            builders.client(db, admin["project_id"], name=f"К{i}", phone=f"+7 916 {i:03d}-00-00")
            for i in range(200)
        )
    )
    count = await db.fetch_val(sa.text("SELECT COUNT(*) FROM clients"))
    assert count == 200
