"""Fixtures: the real app on a fresh database file, and on PostgreSQL with TEST_DATABASE_URL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from core.db import Database
from core.migrations import migrate
from tests.support.databases import (
    BACKENDS,
    PG_TEST_DB,
    PG_URL,
    pg_admin,
    pg_test_url,
    reset_schema,
)
from tests.support.pages import Browser
from web.app import create_app
from web.config import Settings


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str | None]:
    """One PostgreSQL database for the whole run; each test gets a clean schema in it."""
    if not PG_URL:
        yield None
        return
    pg_admin(f'DROP DATABASE IF EXISTS "{PG_TEST_DB}"')
    pg_admin(f'CREATE DATABASE "{PG_TEST_DB}"')
    yield pg_test_url()
    pg_admin(f'DROP DATABASE IF EXISTS "{PG_TEST_DB}" WITH (FORCE)')


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Any, pg_database: str | None) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/data/crm.sqlite3"
    assert pg_database is not None
    reset_schema(pg_database)
    return pg_database


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def db(database_url: str) -> Any:
    async with Database(database_url) as database:
        await migrate(database)
        yield database


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        secret_key="test-secret",
        cheap_passwords=True,
        pbx_allow_private=True,  # the PBX is our simulator on 127.0.0.1
    )


@pytest.fixture
def browser(settings: Settings) -> Iterator[Browser]:
    with Browser(create_app(settings), follow_redirects=True) as client:
        yield client
