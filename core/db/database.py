"""`Database`: the one interface to the database, whichever engine runs it.

`Database(url)` returns the engine the URL names, chosen once: `SqliteDatabase`
(`core.db.sqlite`) or `PostgresDatabase` (`core.db.postgres`). This class holds what both
share: the commit hooks, `upsert`, `insert_ignore` and `claim`; each engine implements the
rest. Rows are dicts.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from contextvars import ContextVar
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import ColumnElement, Executable

from core.db.commit_hooks import CommitHooks, Write
from core.db.prepared import Prepared

Query = Executable | str | Prepared
Values = Mapping[str, Any] | None
Row = dict[str, Any]
Insert = sqlite.Insert | postgresql.Insert


def normalise_url(url: str) -> str:
    """Accept the usual spellings (`postgres://`, `postgresql+asyncpg://`) for one database."""
    for prefix in ("postgres://", "postgresql+asyncpg://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    return url.replace("sqlite+aiosqlite://", "sqlite://", 1)


class Database:
    """A connected database with `fetch_*`, `execute` and nestable `transaction()`."""

    dialect: ClassVar[str]  # "sqlite" or "postgresql", as SQLAlchemy names them
    _engines: ClassVar[dict[str, type[Database]]] = {}
    _insert: Callable[[sa.Table], Insert]  # the dialect's INSERT, with ON CONFLICT

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "dialect" in cls.__dict__:  # an engine; a subclass of one (a test's) replaces nothing
            Database._engines[cls.dialect] = cls

    def __new__(cls, url: str) -> Database:
        if cls is Database:
            dialect = "sqlite" if normalise_url(url).startswith("sqlite") else "postgresql"
            cls = Database._engines[dialect]
        return super().__new__(cls)

    def __init__(self, url: str) -> None:
        self.url = normalise_url(url)
        # Called after each commit with the topics its transaction announced (`announce`).
        self.after_commit: Callable[[set[str]], None] | None = None
        self._hooks: ContextVar[CommitHooks | None] = ContextVar(f"db-h-{id(self)}", default=None)

    async def connect(self) -> None:
        raise NotImplementedError

    async def disconnect(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Database:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.disconnect()

    # Statements: each engine runs them its own way.

    async def fetch_all(self, query: Query, values: Values = None) -> list[Row]:
        raise NotImplementedError

    async def fetch_one(self, query: Query, values: Values = None) -> Row | None:
        raise NotImplementedError

    async def fetch_val(self, query: Query, values: Values = None) -> Any:
        raise NotImplementedError

    async def execute(self, query: Query, values: Values = None) -> Any:
        """Run a write; an INSERT's new id (or what it RETURNs)."""
        raise NotImplementedError

    async def execute_unawaited(self, query: Query, values: Values = None) -> Any:
        """A write whose loss in a crash costs nothing, such as a journal line of a read:
        where the engine can, the caller does not wait for its commit. Inside a transaction
        it is part of it."""
        raise NotImplementedError

    async def execute_many(self, query: Query, values: Sequence[Mapping[str, Any]]) -> None:
        raise NotImplementedError

    def transaction(self) -> AbstractAsyncContextManager[None]:
        """All statements inside commit together or not at all.

        Inside another transaction this simply joins it: a failure rolls the whole thing back.
        Where a part must be able to fail on its own, use `savepoint()`."""
        raise NotImplementedError

    def savepoint(self) -> AbstractAsyncContextManager[None]:
        """A part of the current transaction that rolls back alone when it raises."""
        raise NotImplementedError

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[None]:
        """Several reads in a row on one connection where the engine has a pool; no
        transaction, so each read sees the latest commits."""
        yield

    async def lock(self, name: str) -> None:
        """Serialise transactions that work on the same `name` until the current one ends."""
        raise NotImplementedError

    async def query_plan(self, query: Query, values: Values = None) -> str:
        """Which indexes a statement would use (SQLite's EXPLAIN QUERY PLAN)."""
        raise NotImplementedError(f"query plans are read on SQLite, not {self.dialect}")

    def _skip_locked(self, query: sa.Select[Any]) -> sa.Select[Any]:
        """`query`, passing over rows that another transaction has locked to claim them."""
        raise NotImplementedError

    # The commit hooks.

    def before_commit(self, key: str, write: Write) -> list[Any]:
        """A list that lives as long as the current transaction; `write(list)` runs on it
        once, at the transaction's end, just before the commit. A savepoint that rolls back
        drops what it added. (Used to write rows as late as possible: `core.events`.)"""
        hooks = self._hooks.get()
        if hooks is None:
            raise RuntimeError("before_commit() needs a transaction")
        return hooks.batch(key, write)

    def announce(self, topic: str) -> None:
        """Tell `after_commit` about `topic` once the current transaction has committed (at
        once outside a transaction). A savepoint that rolls back leaves its topics announced:
        listeners re-read what changed, so a needless announcement costs one read."""
        hooks = self._hooks.get()
        if hooks is not None:
            hooks.topics.add(topic)
        elif self.after_commit is not None:
            self.after_commit({topic})

    def _committed(self, hooks: CommitHooks) -> None:
        if hooks.topics and self.after_commit is not None:
            self.after_commit(hooks.topics)

    # Statements both engines build the same way.

    async def upsert(
        self,
        table: sa.Table,
        rows: Mapping[str, Any] | Sequence[Mapping[str, Any]],
        *,
        keys: Sequence[str],
    ) -> None:
        """Insert rows, or update the existing ones with the same `keys`: one prepared
        multi-row statement per batch of up to 16 rows."""
        rows = [rows] if isinstance(rows, Mapping) else list(rows)
        columns = tuple(rows[0]) if rows else ()
        for start in range(0, len(rows), 16):
            batch = rows[start : start + 16]
            values = {f"{c}_{i}": row[c] for i, row in enumerate(batch) for c in columns}
            statement = _upsert(self._insert, table, columns, tuple(keys), len(batch))
            await self.execute(statement, values)

    async def insert_ignore(
        self, table: sa.Table, row: Mapping[str, Any], *, keys: Sequence[str]
    ) -> bool:
        """Insert a row unless one with the same `keys` exists; True when this call inserted it."""
        statement = _insert_ignore(self._insert, table, tuple(row), tuple(keys))
        return await self.fetch_one(statement, row) is not None

    async def claim(
        self,
        table: sa.Table,
        *where: ColumnElement[bool],
        order_by: ColumnElement[Any],
        update: Mapping[str, Any],
    ) -> Row | None:
        """Take the first row of `table` that matches `where`, in `order_by` order, and set
        `update` on it, in one transaction; the row as it was. Processes that share the
        database each take a different row: a row another one is taking is passed over."""
        (key,) = table.primary_key
        query = table.select().where(*where).order_by(order_by).limit(1)
        async with self.transaction():
            row = await self.fetch_one(self._skip_locked(query))
            if row is not None:
                await self.execute(table.update().where(key == row[key.name]).values(update))
        return row


@functools.cache
def _upsert(
    insert: Callable[[sa.Table], Insert],
    table: sa.Table,
    columns: tuple[str, ...],
    keys: tuple[str, ...],
    rows: int,
) -> Prepared:
    statement = insert(table).values(
        [{c: sa.bindparam(f"{c}_{i}", type_=table.c[c].type) for c in columns} for i in range(rows)]
    )
    return Prepared(
        statement.on_conflict_do_update(
            index_elements=list(keys),
            set_={c: statement.excluded[c] for c in columns if c not in keys},
        )
    )


@functools.cache
def _insert_ignore(
    insert: Callable[[sa.Table], Insert],
    table: sa.Table,
    columns: tuple[str, ...],
    keys: tuple[str, ...],
) -> Prepared:
    return Prepared(
        insert(table)
        .values({c: sa.bindparam(c) for c in columns})
        .on_conflict_do_nothing(index_elements=list(keys))
        .returning(*(table.c[k] for k in keys))
    )
