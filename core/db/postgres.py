"""PostgreSQL: `databases` with asyncpg's pool, one connection per task, advisory locks.

Prepared statements run on the asyncpg connection directly, with `$n` parameters; an INSERT
returns its new id through RETURNING, asyncpg having no lastrowid. `databases` is frozen
upstream since 2024: this module is the only one that knows it.

A full disk (or another lack of resources, SQLSTATE class 53) and a read-only database or
server are `StorageUnavailable` (`storage_errors`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from typing import Any, ClassVar

import asyncpg
import databases
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.sql import ClauseElement, Executable, visitors

from core.db.commit_hooks import CommitHooks
from core.db.database import Database, Query, Row, Values
from core.db.prepared import (
    Compiled,
    Prepared,
    bind_values,
    compile_prepared,
    prepared,
    result_rows,
)
from core.errors import StorageUnavailable
from core.i18n import gettext as _

_ASYNCPG = PGDialect_asyncpg()  # type: ignore[no-untyped-call]  # SQLAlchemy leaves it untyped

_ADVISORY_LOCK = prepared(
    sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(sa.bindparam("name", type_=sa.Text))))
)


@contextmanager
def storage_errors() -> Iterator[None]:
    """PostgreSQL's full disk and read-only transactions raised as `StorageUnavailable`."""
    try:
        yield
    except asyncpg.InsufficientResourcesError as e:
        reason = _("на сервере базы данных кончилось место или память")
        raise _unavailable(reason, e) from e
    except asyncpg.ReadOnlySQLTransactionError as e:
        raise _unavailable(_("база данных только для чтения"), e) from e


def _unavailable(reason: str, error: Exception) -> StorageUnavailable:
    translated = StorageUnavailable(reason)
    translated.__cause__ = error
    return translated


def compiled_for_asyncpg(query: Prepared) -> Compiled:
    """`query` compiled once for asyncpg; an INSERT returns its new id."""
    compiled = query.asyncpg
    if compiled is None:
        statement = query.statement
        if isinstance(statement, sa.Insert) and not statement._returning:
            statement = statement.returning(*statement.table.primary_key)
        compiled = query.asyncpg = compile_prepared(statement, _ASYNCPG)
    return compiled


def _with_values(statement: Executable, values: Mapping[str, Any]) -> Executable:
    """What `ClauseElement.params()` does, for INSERT/UPDATE statements too: `databases`
    reads values given with a Core statement as INSERT/UPDATE values, so statements
    prebuilt with `bindparam()` get theirs bound here instead."""

    def bind(parameter: sa.BindParameter[Any]) -> None:
        if parameter.key in values:
            parameter.value = values[parameter.key]
            parameter.required = False

    assert isinstance(statement, ClauseElement)
    bound: Executable = visitors.cloned_traverse(statement, {}, {"bindparam": bind})
    return bound


async def _keep_session_state(conn: Any) -> None:
    """What asyncpg's pool runs on each connection it takes back, after rolling back any open
    transaction. Its default (`RESET ALL`, `UNLISTEN *`, unlocking session advisory locks) cost
    one more round trip per statement outside a transaction, and this app leaves no such state:
    its advisory locks end with their transaction and it listens on a connection of its own
    (`core.live`)."""


class PostgresDatabase(Database):
    """PostgreSQL through asyncpg's pool: a connection per task, or per transaction."""

    dialect: ClassVar[str] = "postgresql"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self._insert = postgresql.insert
        self._pool = databases.Database(
            self.url, min_size=1, max_size=20, reset=_keep_session_state
        )
        # The `databases` connection of the current transaction, or of `reading()`.
        self._current: ContextVar[Any] = ContextVar(f"db-c-{id(self)}", default=None)
        self._session: ContextVar[Any] = ContextVar(f"db-s-{id(self)}", default=None)

    async def connect(self) -> None:
        await self._pool.connect()

    async def disconnect(self) -> None:
        await self._pool.disconnect()

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[Any]:
        current = self._current.get() or self._session.get()
        with storage_errors():
            if current is not None:
                yield current
            else:
                async with self._pool.connection() as conn:
                    yield conn

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[None]:
        """One pool checkout for several reads instead of one per statement."""
        if self._current.get() is not None or self._session.get():
            yield
            return
        async with self._pool.connection() as conn:
            token = self._session.set(conn)
            try:
                yield
            finally:
                self._session.reset(token)

    async def _prepared(self, query: Prepared, values: Values) -> list[Row]:
        """A prepared statement on asyncpg directly: compiled once, `$n` parameters."""
        compiled = compiled_for_asyncpg(query)
        async with self._connection() as conn:
            rows = await conn.raw_connection.fetch(compiled.sql, *bind_values(compiled, values))
        return result_rows(compiled, rows)

    async def fetch_all(self, query: Query, values: Values = None) -> list[Row]:
        if isinstance(query, Prepared):
            return await self._prepared(query, values)
        if values and not isinstance(query, str):
            query, values = _with_values(query, values), None
        async with self._connection() as conn:
            rows = await conn.fetch_all(query, values)
        return [dict(row._mapping) for row in rows]

    async def fetch_one(self, query: Query, values: Values = None) -> Row | None:
        if isinstance(query, Prepared):
            rows = await self._prepared(query, values)
            return rows[0] if rows else None
        if values and not isinstance(query, str):
            query, values = _with_values(query, values), None
        async with self._connection() as conn:
            row = await conn.fetch_one(query, values)
        return None if row is None else dict(row._mapping)

    async def fetch_val(self, query: Query, values: Values = None) -> Any:
        if isinstance(query, Prepared):
            rows = await self._prepared(query, values)
            return next(iter(rows[0].values())) if rows else None
        if values and not isinstance(query, str):
            query, values = _with_values(query, values), None
        async with self._connection() as conn:
            return await conn.fetch_val(query, values)

    async def execute(self, query: Query, values: Values = None) -> Any:
        if isinstance(query, Prepared):
            rows = await self._prepared(query, values)
            return next(iter(rows[0].values())) if rows else None
        if values and not isinstance(query, str):
            query, values = _with_values(query, values), None
        async with self._connection() as conn:
            return await conn.execute(query, values)

    async def execute_unawaited(self, query: Query, values: Values = None) -> Any:
        """A lone statement: every commit here is waited for."""
        return await self.execute(query, values)

    async def execute_many(self, query: Query, values: Sequence[Mapping[str, Any]]) -> None:
        if not values:
            return
        if isinstance(query, Prepared):
            compiled = compiled_for_asyncpg(query)
            async with self._connection() as conn:  # asyncpg pipelines them: one round trip
                await conn.raw_connection.executemany(
                    compiled.sql, [bind_values(compiled, row) for row in values]
                )
            return
        async with self._connection() as conn:
            await conn.execute_many(query, list(values))

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        if self._current.get() is not None:
            yield
            return
        hooks = CommitHooks()
        async with self._connection() as conn:
            token = self._current.set(conn)
            hooks_token = self._hooks.set(hooks)
            try:
                async with conn.transaction():
                    yield
                    await hooks.before_commit()
            finally:
                self._hooks.reset(hooks_token)
                self._current.reset(token)
        self._committed(hooks)

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        current = self._current.get()
        if current is None:
            async with self.transaction():
                yield
            return
        hooks = self._hooks.get()
        mark = hooks.mark() if hooks is not None else {}
        try:
            async with current.transaction():
                yield
        except BaseException:
            if hooks is not None:  # what the rolled-back part added goes with it
                hooks.roll_back_to(mark)
            raise

    async def lock(self, name: str) -> None:
        """A transaction-level advisory lock on `name`'s hash, taken once per transaction."""
        hooks = self._hooks.get()
        if hooks is not None:
            if name in hooks.locks:  # held until the end of this transaction already
                return
            hooks.locks.add(name)
        await self.execute(_ADVISORY_LOCK, {"name": name})

    def _skip_locked(self, query: sa.Select[Any]) -> sa.Select[Any]:
        return query.with_for_update(skip_locked=True)
