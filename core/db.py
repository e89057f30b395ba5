"""The one place that knows the `databases` package: connections, transactions, dialects.

SQLite (the embedded default) gets a single shared connection in WAL mode, with every
statement and transaction serialised through an asyncio lock: aiosqlite opens one thread
per connection and concurrent writers on separate connections fail with "database is
locked". PostgreSQL uses the driver's pool, one connection per task.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import databases
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import ClauseElement

Query = ClauseElement | str
Values = Mapping[str, Any] | None


def normalise_url(url: str) -> str:
    """Accept the usual spellings (`postgres://`, `postgresql+asyncpg://`) for one database."""
    for prefix in ("postgres://", "postgresql+asyncpg://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    return url.replace("sqlite+aiosqlite://", "sqlite://", 1)


class Database:
    """A connected database with `fetch_*`, `execute` and nestable `transaction()`."""

    def __init__(self, url: str) -> None:
        self.url = normalise_url(url)
        self.dialect = "sqlite" if self.url.startswith("sqlite") else "postgresql"
        if self.dialect == "sqlite":
            self._ensure_sqlite_folder()
            # Driver options go in keyword arguments: `databases` would glue a URL query
            # onto the SQLite file name.
            self._db = databases.Database(self.url, timeout=30)
        else:
            self._db = databases.Database(self.url, min_size=1, max_size=10)
        self._lock = asyncio.Lock()
        self._shared: databases.core.Connection | None = None
        self._current: ContextVar[databases.core.Connection | None] = ContextVar(
            f"db-{id(self)}", default=None
        )

    def _ensure_sqlite_folder(self) -> None:
        path = self.url.split("://", 1)[1].lstrip("/")
        if self.url.startswith("sqlite:////"):
            path = "/" + path
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)

    async def connect(self) -> None:
        await self._db.connect()
        if self.dialect == "sqlite":
            self._shared = self._db.connection()
            await self._shared.__aenter__()
            for pragma in (
                "PRAGMA journal_mode=WAL",
                "PRAGMA synchronous=NORMAL",
                "PRAGMA foreign_keys=ON",
                "PRAGMA busy_timeout=30000",
            ):
                await self._shared.execute(pragma)

    async def disconnect(self) -> None:
        if self._shared is not None:
            await self._shared.__aexit__(None, None, None)
            self._shared = None
        await self._db.disconnect()

    async def __aenter__(self) -> Database:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.disconnect()

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[databases.core.Connection]:
        current = self._current.get()
        if current is not None:
            yield current
        elif self._shared is not None:
            async with self._lock:
                yield self._shared
        else:
            async with self._db.connection() as conn:
                yield conn

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """All statements inside commit together or not at all; nested calls are savepoints."""
        current = self._current.get()
        if current is not None:
            async with current.transaction():
                yield
            return
        async with self._connection() as conn:
            token = self._current.set(conn)
            try:
                async with conn.transaction():
                    yield
            finally:
                self._current.reset(token)

    async def fetch_all(self, query: Query, values: Values = None) -> list[dict[str, Any]]:
        async with self._connection() as conn:
            return [dict(row._mapping) for row in await conn.fetch_all(query, values)]

    async def fetch_one(self, query: Query, values: Values = None) -> dict[str, Any] | None:
        async with self._connection() as conn:
            row = await conn.fetch_one(query, values)
        return None if row is None else dict(row._mapping)

    async def fetch_val(self, query: Query, values: Values = None) -> Any:
        async with self._connection() as conn:
            return await conn.fetch_val(query, values)

    async def execute(self, query: Query, values: Values = None) -> Any:
        async with self._connection() as conn:
            return await conn.execute(query, values)

    async def execute_many(self, query: Query, values: Sequence[Mapping[str, Any]]) -> None:
        if not values:
            return
        async with self._connection() as conn:
            await conn.execute_many(query, list(values))

    async def upsert(self, table: sa.Table, row: Mapping[str, Any], *, keys: Sequence[str]) -> None:
        """Insert a row, or update the existing one with the same `keys`."""
        dialect_insert = sqlite.insert if self.dialect == "sqlite" else postgresql.insert
        statement = dialect_insert(table).values(**row)
        statement = statement.on_conflict_do_update(
            index_elements=list(keys),
            set_={name: statement.excluded[name] for name in row if name not in keys},
        )
        await self.execute(statement)

    async def lock(self, name: str) -> None:
        """Serialise transactions that work on the same `name` until the current one ends.

        SQLite needs nothing: its transactions already run one at a time here.
        """
        if self.dialect == "postgresql":
            await self.execute("SELECT pg_advisory_xact_lock(hashtext(:name))", {"name": name})

    async def insert_ignore(
        self, table: sa.Table, row: Mapping[str, Any], *, keys: Sequence[str]
    ) -> bool:
        """Insert a row unless one with the same `keys` exists; True when this call inserted it."""
        dialect_insert = sqlite.insert if self.dialect == "sqlite" else postgresql.insert
        statement = (
            dialect_insert(table)
            .values(**row)
            .on_conflict_do_nothing(index_elements=list(keys))
            .returning(*(table.c[k] for k in keys))
        )
        return await self.fetch_one(statement) is not None
