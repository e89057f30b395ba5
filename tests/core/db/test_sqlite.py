"""The SQLite engine: one shared connection, group commit, checkpoints in a worker thread."""

import asyncio
import contextlib
import resource
import sqlite3
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from core.db import sqlite
from core.db.sqlite import SharedConnection
from core.errors import StorageUnavailable

pytestmark = pytest.mark.anyio


def committed_kinds(path) -> list[str]:
    """What another connection sees: only what is committed."""
    with sqlite3.connect(path) as other:
        return sorted(kind for (kind,) in other.execute("SELECT kind FROM scratch_jobs"))


async def until(condition, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


async def test_transactions_that_end_in_one_loop_turn_share_one_commit(tmp_path):
    conn = SharedConnection(str(tmp_path / "group.sqlite3"))
    try:
        conn.raw.execute("CREATE TABLE t (x INTEGER)")
        statements: list[str] = []
        conn.raw.set_trace_callback(statements.append)
        lock = asyncio.Lock()
        flushed = []
        for i in range(3):
            with conn.savepoint():
                conn.execute("INSERT INTO t VALUES (:x)", {"x": i})
            flushed.append(conn.flushed(lock))
        assert flushed[0] is flushed[1] is flushed[2]
        assert "COMMIT" not in statements
        await asyncio.wait_for(flushed[0], 5)
        assert statements.count("BEGIN IMMEDIATE") == 1
        assert statements.count("COMMIT") == 1
    finally:
        conn.close()


async def test_every_caller_waits_for_the_commit(sqlite_db, jobs, sqlite_path):

    async def write(kind: str) -> None:
        await sqlite_db.execute(jobs.insert().values(kind=kind, state="new"))
        assert kind in committed_kinds(sqlite_path)  # committed when the call returns

    await asyncio.gather(*(write(f"k{i}") for i in range(30)))
    assert len(committed_kinds(sqlite_path)) == 30


async def test_a_failed_transaction_in_a_group_leaves_the_others_committed(
    sqlite_db, jobs, sqlite_path
):

    async def write(kind: str, fail: bool) -> None:
        async with sqlite_db.transaction():
            await sqlite_db.execute(jobs.insert().values(kind=kind, state="new"))
            if fail:
                raise RuntimeError("boom")

    outcomes = await asyncio.gather(
        write("a", False), write("b", True), write("c", False), return_exceptions=True
    )
    assert [type(o) for o in outcomes] == [type(None), RuntimeError, type(None)]
    assert committed_kinds(sqlite_path) == ["a", "c"]


@contextlib.contextmanager
def disk_full() -> Iterator[None]:
    """No file of this process may grow (Python ignores the SIGXFSZ): writes fail as on a
    full disk, until the end."""
    limits = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1, limits[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limits)


@pytest.mark.skipif(not hasattr(resource, "RLIMIT_FSIZE"), reason="POSIX only")
async def test_a_group_sqlite_rolls_back_on_a_full_disk_fails_whole_even_if_a_caller_goes_on(
    sqlite_db, jobs, sqlite_path
):
    """On a full disk SQLite rolls back the whole group transaction by itself when a large
    transaction spills pages to the WAL. A caller that catches the error and goes on writes
    nothing outside a transaction; it and every other transaction of the group fail with
    `StorageUnavailable`; the next group, once there is space, starts afresh."""
    sqlite_db._conn.raw.execute("PRAGMA cache_size = 10")  # spill after 10 pages
    caught: list[Exception] = []

    async def small() -> None:
        async with sqlite_db.transaction():
            await sqlite_db.execute(jobs.insert().values(kind="small", state="new"))

    async def careless() -> None:
        async with sqlite_db.transaction():
            try:
                for i in range(100):
                    await sqlite_db.execute(jobs.insert().values(kind=f"big{i}", state="x" * 4000))
            except StorageUnavailable as e:
                caught.append(e)
            for kind in ("error row", "another"):  # as a journal would write the error down
                try:
                    await sqlite_db.execute(jobs.insert().values(kind=kind, state="new"))
                except StorageUnavailable as e:
                    caught.append(e)

    with disk_full():
        outcomes = await asyncio.gather(small(), careless(), return_exceptions=True)
    assert [type(o) for o in outcomes] == [StorageUnavailable, StorageUnavailable]
    assert len(caught) == 3, "each statement of the lost group failed, none ran on its own"
    assert committed_kinds(sqlite_path) == []
    await small()
    assert committed_kinds(sqlite_path) == ["small"]


async def test_a_failed_inner_transaction_that_is_caught_stays_part_of_the_outer(sqlite_db, jobs):
    """Joining means no savepoint of its own: what the inner part wrote commits with the rest
    (use `savepoint()` for a part that may fail alone)."""
    async with sqlite_db.transaction():
        with pytest.raises(RuntimeError):
            async with sqlite_db.transaction():
                await sqlite_db.execute(jobs.insert().values(kind="inner", state="new"))
                raise RuntimeError("boom")
    assert [r["kind"] for r in await sqlite_db.fetch_all(jobs.select())] == ["inner"]


async def test_reads_outside_a_transaction_wait_for_the_one_under_way(sqlite_db, jobs):
    """One connection: a read must not see another task's uncommitted rows."""
    inside, release = asyncio.Event(), asyncio.Event()

    async def writer() -> None:
        async with sqlite_db.transaction():
            await sqlite_db.execute(jobs.insert().values(kind="uncommitted", state="new"))
            inside.set()
            await asyncio.wait_for(release.wait(), 5)
            raise RuntimeError("rolled back")

    task = asyncio.create_task(writer())
    await asyncio.wait_for(inside.wait(), 5)
    read = asyncio.create_task(sqlite_db.fetch_all(jobs.select()))
    await asyncio.sleep(0.05)
    assert not read.done()
    release.set()
    assert await asyncio.wait_for(read, 5) == []
    with pytest.raises(RuntimeError):
        await task


async def test_an_unawaited_write_is_committed_with_the_next_group(sqlite_db, jobs, sqlite_path):
    await sqlite_db.execute_unawaited(jobs.insert().values(kind="journal", state="new"))
    await until(lambda: committed_kinds(sqlite_path) == ["journal"])


async def test_checkpoints_copy_the_wal_into_the_database_file(tmp_path, monkeypatch):
    monkeypatch.setattr(sqlite, "CHECKPOINT_EVERY", 0.01)
    path = tmp_path / "checkpoints.sqlite3"
    async with sqlite.SqliteDatabase(f"sqlite:///{path}") as db:
        await db.execute("CREATE TABLE scratch_jobs (id INTEGER PRIMARY KEY, kind TEXT)")
        size = path.stat().st_size
        rows = [{"kind": f"k{i}"} for i in range(500)]
        await db.execute_many("INSERT INTO scratch_jobs (kind) VALUES (:kind)", rows)
        await until(lambda: path.stat().st_size > size)
    wal = tmp_path / "checkpoints.sqlite3-wal"
    assert not wal.exists() or wal.stat().st_size == 0  # truncated on disconnect
    assert len(committed_kinds(path)) == 500


async def test_the_query_plan_names_the_index(sqlite_db):
    plan = await sqlite_db.query_plan(
        sa.text("SELECT name FROM schema_migrations WHERE version = :v"), {"v": 1}
    )
    assert plan.startswith("SEARCH schema_migrations")
