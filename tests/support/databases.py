"""The databases tests run on: a fresh SQLite file, or PostgreSQL when TEST_DATABASE_URL is set
(`.ci/run` sets it); the suite creates and drops its own database there."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Callable
from typing import Any

import asyncpg

from core.db import Database

PG_URL = os.environ.get("TEST_DATABASE_URL")
BACKENDS = ["sqlite", "postgresql"] if PG_URL else ["sqlite"]
PG_TEST_DB = f"crm_test_{os.getpid()}"


def pg_admin(sql: str) -> None:
    """Run one statement on the server's own database (to create or drop the test database)."""

    async def run() -> None:
        conn = await asyncpg.connect(PG_URL)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


def pg_test_url() -> str:
    """The address of this run's own PostgreSQL database (`PG_TEST_DB` on the same server)."""
    assert PG_URL
    return re.sub(r"/[^/]*$", f"/{PG_TEST_DB}", PG_URL)


def reset_schema(url: str) -> None:
    """An empty PostgreSQL database again: every table gone."""

    async def reset() -> None:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
        finally:
            await conn.close()

    asyncio.run(reset())


def run_core(url: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a `core` coroutine function on a live app's database, from the test thread."""

    async def call() -> Any:
        async with Database(url) as db:
            return await fn(db, *args, **kwargs)

    return asyncio.run(call())
