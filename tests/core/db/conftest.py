"""Fixtures for the database layer: a scratch table on either engine, and each engine alone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from core.clock import UtcDateTime
from core.db import Database, PostgresDatabase, SqliteDatabase
from core.migrations import migrate
from tests.support.databases import reset_schema

metadata = sa.MetaData()
JOBS = sa.Table(
    "scratch_jobs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("created_at", UtcDateTime),
    sa.UniqueConstraint("kind"),
)


async def create_jobs(db: Database) -> sa.Table:
    id_column = "INTEGER PRIMARY KEY" if db.dialect == "sqlite" else "SERIAL PRIMARY KEY"
    await db.execute(
        f"CREATE TABLE scratch_jobs (id {id_column}, kind VARCHAR(20) NOT NULL UNIQUE, "
        "state VARCHAR(20) NOT NULL, created_at TIMESTAMP WITH TIME ZONE)"
    )
    return JOBS


@pytest.fixture
async def jobs(request: pytest.FixtureRequest) -> sa.Table:
    """An empty table of its own next to the app's, on the database the test uses (`db`,
    `sqlite_db` or `pg_db`)."""
    for name in ("db", "sqlite_db", "pg_db"):
        if name in request.fixturenames:
            return await create_jobs(request.getfixturevalue(name))
    raise LookupError("`jobs` goes with `db`, `sqlite_db` or `pg_db`")


@pytest.fixture
def sqlite_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "crm.sqlite3"


@pytest.fixture
async def sqlite_db(sqlite_path: Path) -> AsyncIterator[SqliteDatabase]:
    async with Database(f"sqlite:///{sqlite_path}") as database:
        assert isinstance(database, SqliteDatabase)
        await migrate(database)
        yield database


@pytest.fixture
def pg_url(pg_database: str | None) -> str:
    """This run's PostgreSQL database, emptied; the test is skipped without TEST_DATABASE_URL."""
    if pg_database is None:
        pytest.skip("PostgreSQL tests run with TEST_DATABASE_URL")
    reset_schema(pg_database)
    return pg_database


@pytest.fixture
async def pg_db(pg_url: str) -> AsyncIterator[PostgresDatabase]:
    async with Database(pg_url) as database:
        assert isinstance(database, PostgresDatabase)
        await migrate(database)
        yield database
