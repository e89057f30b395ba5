"""`Database`, the facade: the same behaviour on every engine (each test runs on each)."""

import asyncio

import pytest
import sqlalchemy as sa

from core import clients
from core.db import Database, PostgresDatabase, SqliteDatabase, prepared
from core.migrations import available, migrate
from tests.support import builders

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("url", "engine"),
    [
        ("sqlite:///data/crm.sqlite3", SqliteDatabase),
        ("sqlite+aiosqlite:///data/crm.sqlite3", SqliteDatabase),
        ("postgresql://u@localhost/crm", PostgresDatabase),
        ("postgres://u@localhost/crm", PostgresDatabase),
        ("postgresql+asyncpg://u@localhost/crm", PostgresDatabase),
    ],
)
def test_the_url_chooses_the_engine(url, engine):
    db = Database(url)
    assert type(db) is engine
    assert isinstance(db, Database)
    assert db.url.split("://")[0] == db.dialect


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


async def test_a_transaction_inside_another_joins_it(db, jobs):
    with pytest.raises(RuntimeError):
        async with db.transaction():
            await db.execute(jobs.insert().values(kind="outer", state="new"))
            async with db.transaction():
                await db.execute(jobs.insert().values(kind="inner", state="new"))
            raise RuntimeError("the outer one fails after the inner one ended")
    assert await db.fetch_all(jobs.select()) == []


async def test_a_savepoint_rolls_back_alone(db, jobs):
    async with db.transaction():
        await db.execute(jobs.insert().values(kind="kept", state="new"))
        with pytest.raises(RuntimeError):
            async with db.savepoint():
                await db.execute(jobs.insert().values(kind="dropped", state="new"))
                raise RuntimeError("this part fails alone")
        await db.execute(jobs.insert().values(kind="after", state="new"))
    rows = await db.fetch_all(sa.select(jobs.c.kind).order_by(jobs.c.id))
    assert [r["kind"] for r in rows] == ["kept", "after"]


async def test_a_savepoint_outside_a_transaction_is_one(db, jobs):
    with pytest.raises(RuntimeError):
        async with db.savepoint():
            await db.execute(jobs.insert().values(kind="gone", state="new"))
            raise RuntimeError("boom")
    async with db.savepoint():
        await db.execute(jobs.insert().values(kind="kept", state="new"))
    assert [r["kind"] for r in await db.fetch_all(jobs.select())] == ["kept"]


async def test_execute_returns_the_new_id_and_reads_return_dicts(db, jobs):
    first = await db.execute(jobs.insert().values(kind="a", state="new"))
    second = await db.execute(
        prepared(jobs.insert().values(kind=sa.bindparam("kind"), state="new")), {"kind": "b"}
    )
    assert second == first + 1
    row = await db.fetch_one(jobs.select().where(jobs.c.id == second))
    assert row == {"id": second, "kind": "b", "state": "new", "created_at": None}
    assert await db.fetch_one(jobs.select().where(jobs.c.id == 0)) is None
    assert await db.fetch_val(sa.select(sa.func.count()).select_from(jobs)) == 2
    unawaited = await db.execute_unawaited(jobs.insert().values(kind="c", state="new"))
    assert unawaited == second + 1


async def test_execute_many_writes_every_row(db, jobs):
    await db.execute_many(jobs.insert(), [{"kind": f"k{i}", "state": "new"} for i in range(5)])
    statement = prepared(jobs.insert().values(kind=sa.bindparam("kind"), state="new"))
    await db.execute_many(statement, [{"kind": f"p{i}"} for i in range(5)])
    await db.execute_many(statement, [])
    assert await db.fetch_val(sa.select(sa.func.count()).select_from(jobs)) == 10


async def test_upsert_inserts_then_updates_by_key(db, jobs):
    await db.upsert(jobs, [{"kind": f"k{i}", "state": "new"} for i in range(20)], keys=["kind"])
    await db.upsert(jobs, {"kind": "k3", "state": "done"}, keys=["kind"])
    rows = await db.fetch_all(sa.select(jobs.c.kind, jobs.c.state).order_by(jobs.c.id))
    assert len(rows) == 20
    assert {r["kind"]: r["state"] for r in rows}["k3"] == "done"
    assert [r["state"] for r in rows].count("new") == 19


async def test_insert_ignore_tells_whether_it_inserted(db, jobs):
    assert await db.insert_ignore(jobs, {"kind": "once", "state": "new"}, keys=["kind"])
    assert not await db.insert_ignore(jobs, {"kind": "once", "state": "other"}, keys=["kind"])
    assert [r["state"] for r in await db.fetch_all(jobs.select())] == ["new"]


async def test_claim_takes_the_oldest_matching_row_and_marks_it(db, jobs):
    for kind in ("a", "b", "c"):
        await db.execute(jobs.insert().values(kind=kind, state="pending"))
    await db.execute(jobs.update().where(jobs.c.kind == "a").values(state="done"))

    def claim():
        return db.claim(
            jobs, jobs.c.state == "pending", order_by=jobs.c.id, update={"state": "running"}
        )

    first = await claim()
    assert (first["kind"], first["state"]) == ("b", "pending")  # the row as it was
    second = await claim()
    assert second["kind"] == "c"
    assert await claim() is None
    rows = await db.fetch_all(sa.select(jobs.c.kind, jobs.c.state).order_by(jobs.c.id))
    assert [(r["kind"], r["state"]) for r in rows] == [
        ("a", "done"),
        ("b", "running"),
        ("c", "running"),
    ]


async def test_a_lock_is_taken_inside_a_transaction_and_again_without_harm(db):
    async with db.transaction():
        await db.lock("match:1:79161234567")
        await db.lock("match:1:79161234567")
    await db.lock("outside a transaction")


async def test_after_commit_hears_the_announced_topics_once_committed(db, jobs):
    heard: list[set[str]] = []
    db.after_commit = heard.append
    async with db.transaction():
        db.announce("a")
        db.announce("b")
        await db.execute(jobs.insert().values(kind="a", state="new"))
        assert heard == []
    assert heard == [{"a", "b"}]
    with pytest.raises(RuntimeError):
        async with db.transaction():
            db.announce("c")
            raise RuntimeError("boom")
    assert heard == [{"a", "b"}]
    db.announce("d")  # outside a transaction: at once
    assert heard == [{"a", "b"}, {"d"}]


async def test_before_commit_writes_the_batch_last_and_drops_what_a_savepoint_undid(db, jobs):
    written: list[list[str]] = []

    async def write(kinds: list[str]) -> None:
        written.append(list(kinds))
        await db.execute_many(jobs.insert(), [{"kind": k, "state": "new"} for k in kinds])

    async with db.transaction():
        db.before_commit("jobs", write).append("first")
        with pytest.raises(RuntimeError):
            async with db.savepoint():
                db.before_commit("jobs", write).append("undone")
                raise RuntimeError("boom")
        db.before_commit("jobs", write).append("last")
        assert written == []
    assert written == [["first", "last"]]
    assert sorted(r["kind"] for r in await db.fetch_all(jobs.select())) == ["first", "last"]
    with pytest.raises(RuntimeError, match="needs a transaction"):
        db.before_commit("jobs", write)


async def test_query_plans_are_read_on_sqlite_only(db):
    statement = sa.text("SELECT name FROM schema_migrations WHERE version = :v")
    if db.dialect != "sqlite":
        with pytest.raises(NotImplementedError):
            await db.query_plan(statement, {"v": 1})
        return
    assert "USING INTEGER PRIMARY KEY" in await db.query_plan(statement, {"v": 1})
