"""Fixtures: the real app on a fresh database file, and on PostgreSQL with TEST_DATABASE_URL."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest
from bs4 import BeautifulSoup
from starlette.testclient import TestClient

from core.db import Database
from core.migrations import migrate
from web.app import create_app
from web.config import Settings

PG_URL = os.environ.get("TEST_DATABASE_URL")
BACKENDS = ["sqlite", "postgresql"] if PG_URL else ["sqlite"]
PG_TEST_DB = f"crm_test_{os.getpid()}"


def _pg_admin(sql: str) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(PG_URL)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str | None]:
    """One PostgreSQL database for the whole run; each test gets a clean schema in it."""
    if not PG_URL:
        yield None
        return
    _pg_admin(f'DROP DATABASE IF EXISTS "{PG_TEST_DB}"')
    _pg_admin(f'CREATE DATABASE "{PG_TEST_DB}"')
    yield re.sub(r"/[^/]*$", f"/{PG_TEST_DB}", PG_URL)
    _pg_admin(f'DROP DATABASE IF EXISTS "{PG_TEST_DB}" WITH (FORCE)')


def reset_schema(url: str) -> None:
    """An empty PostgreSQL database again: every table gone."""

    async def reset() -> None:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
        finally:
            await conn.close()

    asyncio.run(reset())


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
    return Settings(database_url=database_url, secret_key="test-secret", cheap_passwords=True)


class Browser(TestClient):
    """A TestClient that behaves like a person's browser: it sends the CSRF token with forms."""

    def csrf_token(self) -> str:
        token = self.cookies.get("csrftoken")
        if not token:
            self.get("/login")
            token = self.cookies.get("csrftoken")
        return token or ""

    def submit(self, url: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        return self.post(url, data={**(data or {}), "csrftoken": self.csrf_token()}, **kwargs)

    def htmx(self, method: str, url: str, data: dict[str, Any] | None = None) -> Any:
        headers = {"HX-Request": "true", "x-csrftoken": self.csrf_token()}
        return self.request(method, url, data=data, headers=headers)

    def run(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run a `core` coroutine function against the app's own database."""

        async def call() -> Any:
            return await fn(self.app_state["db"], *args, **kwargs)

        return self.portal.call(call)

    @property
    def passwords(self) -> Any:
        return self.app_state["passwords"]

    def login(self, email: str, password: str = "password123") -> Any:
        self.get("/login")
        response = self.submit("/login", {"email": email, "password": password})
        assert response.status_code == 200, response.text
        return response


@pytest.fixture
def browser(settings: Settings) -> Iterator[Browser]:
    with Browser(create_app(settings), follow_redirects=True) as client:
        yield client


def page(response: Any) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


def text_of(response: Any) -> str:
    return " ".join(page(response).get_text(" ").split())
