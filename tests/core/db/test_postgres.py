"""The PostgreSQL engine: asyncpg's pool, advisory locks, prepared statements on asyncpg.

Each test needs TEST_DATABASE_URL (`pg_db` skips without it)."""

import asyncio
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from core.db import Database, prepared
from core.errors import StorageUnavailable

pytestmark = pytest.mark.anyio

_BACKEND_PID = "SELECT pg_backend_pid()"


async def test_transactions_run_side_by_side_on_connections_of_their_own(pg_db, jobs):
    inside, release = asyncio.Event(), asyncio.Event()

    async def writer() -> None:
        async with pg_db.transaction():
            await pg_db.execute(jobs.insert().values(kind="a", state="new"))
            inside.set()
            await asyncio.wait_for(release.wait(), 5)

    task = asyncio.create_task(writer())
    await asyncio.wait_for(inside.wait(), 5)
    assert await pg_db.fetch_all(jobs.select()) == []  # not committed yet, and not blocked
    release.set()
    await asyncio.wait_for(task, 5)
    assert [r["kind"] for r in await pg_db.fetch_all(jobs.select())] == ["a"]


async def test_reading_keeps_one_connection_for_several_reads(pg_db):
    async with pg_db.reading():
        first = await pg_db.fetch_val(_BACKEND_PID)
        assert await pg_db.fetch_val(_BACKEND_PID) == first
        async with pg_db.transaction():
            assert await pg_db.fetch_val(_BACKEND_PID) == first


async def test_an_advisory_lock_serialises_transactions_until_the_first_commits(pg_db):
    order: list[str] = []
    locked, release = asyncio.Event(), asyncio.Event()

    async def first() -> None:
        async with pg_db.transaction():
            await pg_db.lock("live:1")
            await pg_db.lock("live:1")  # taken once per transaction
            locked.set()
            await asyncio.wait_for(release.wait(), 5)
            order.append("first commits")

    async def second() -> None:
        await asyncio.wait_for(locked.wait(), 5)
        async with pg_db.transaction():
            await pg_db.lock("live:1")
            order.append("second has the lock")

    tasks = [asyncio.create_task(first()), asyncio.create_task(second())]
    await asyncio.wait_for(locked.wait(), 5)
    await asyncio.sleep(0.05)
    assert order == []  # the second waits
    release.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 5)
    assert order == ["first commits", "second has the lock"]
    held = (
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = "
        "(SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    assert await pg_db.fetch_val(held) == 0  # they end with their transaction


async def test_claims_in_concurrent_transactions_take_different_rows(pg_db, jobs):
    for kind in ("a", "b"):
        await pg_db.execute(jobs.insert().values(kind=kind, state="pending"))
    claimed, release = asyncio.Event(), asyncio.Event()

    def claim():
        return pg_db.claim(
            jobs, jobs.c.state == "pending", order_by=jobs.c.id, update={"state": "running"}
        )

    async def slow() -> str:
        async with pg_db.transaction():  # the claim joins it: its row stays locked
            row = await claim()
            claimed.set()
            await asyncio.wait_for(release.wait(), 5)
        return row["kind"]

    task = asyncio.create_task(slow())
    await asyncio.wait_for(claimed.wait(), 5)
    other = await asyncio.wait_for(claim(), 5)  # passes over the locked row, does not wait
    release.set()
    assert (await asyncio.wait_for(task, 5), other["kind"]) == ("a", "b")


async def test_prepared_statements_run_on_asyncpg_with_sqlalchemy_types(pg_db, jobs):
    insert = prepared(
        jobs.insert().values(
            kind=sa.bindparam("kind"), state="new", created_at=sa.bindparam("created_at")
        )
    )
    when = datetime(2025, 3, 1, 12, 30, tzinfo=UTC)
    new_id = await pg_db.execute(insert, {"kind": "a", "created_at": when})
    assert isinstance(new_id, int)  # asyncpg has no lastrowid: RETURNING gives the id
    assert insert.asyncpg is not None and "$1" in insert.asyncpg.sql
    select = prepared(jobs.select().where(jobs.c.kind == sa.bindparam("kind")))
    row = await pg_db.fetch_one(select, {"kind": "a"})
    assert row == {"id": new_id, "kind": "a", "state": "new", "created_at": when}
    await pg_db.execute_many(insert, [{"kind": f"k{i}", "created_at": when} for i in range(3)])
    count = prepared(sa.select(sa.func.count()).select_from(jobs))
    assert await pg_db.fetch_val(count) == 4


async def test_plain_statements_take_values_for_their_bindparams(pg_db, jobs):
    update = jobs.update().where(jobs.c.kind == sa.bindparam("k")).values(state="done")
    await pg_db.execute(jobs.insert().values(kind="a", state="new"))
    await pg_db.execute(update, {"k": "a"})
    select = sa.select(jobs.c.state).where(jobs.c.kind == sa.bindparam("k"))
    assert await pg_db.fetch_val(select, {"k": "a"}) == "done"


async def test_a_read_only_database_is_storage_unavailable_and_reads_go_on(pg_db, jobs):
    name = pg_db.url.rsplit("/", 1)[1]
    await pg_db.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
    try:
        async with Database(pg_db.url) as read_only:  # its connections are read-only
            with pytest.raises(StorageUnavailable) as raised:
                await read_only.execute(jobs.insert().values(kind="a", state="new"))
            with pytest.raises(StorageUnavailable):
                async with read_only.transaction():
                    await read_only.execute(prepared(jobs.insert().values(kind="b", state="n")))
            assert await read_only.fetch_all(jobs.select()) == []
    finally:
        await pg_db.execute(f'ALTER DATABASE "{name}" RESET default_transaction_read_only')
    assert raised.value.reason == "база данных только для чтения"
