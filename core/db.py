"""The one place that knows the database drivers: connections, transactions, dialects.

- **SQLite** (the embedded default): one shared connection through SQLAlchemy's own engine
  (stdlib `sqlite3`, WAL mode), used under an asyncio lock. Short statements run right on
  the event loop; multi-row reads that are not prepared run in a worker thread, so a broad
  search never stalls the loop. Group commit: logical transactions that end in the same loop
  turn share one COMMIT (each in its own savepoint), and every caller awaits that COMMIT.
  WAL checkpoints run every second from a worker thread on a second connection.
- **PostgreSQL**: `databases` with asyncpg's pool, one connection per task.
- **Prepared statements** (`prepared(...)` with `bindparam()`s) are compiled once per
  dialect and run straight on the driver (the sqlite3 cursor, the asyncpg connection).
  Measured: `databases` + aiosqlite compiled every statement and crossed a thread for each,
  which held the webhook endpoint to 51 requests/s.

Callers see one API: `fetch_all/one/val`, `execute`, `execute_many`, `upsert`, `insert_ignore`,
`lock`, `query_plan`, `transaction()` (joins an outer one) and `savepoint()`; rows are dicts.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import anyio.to_thread
import databases
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect
from sqlalchemy.pool import StaticPool
from sqlalchemy.sql import ClauseElement, visitors


class Prepared:
    """A statement built once at import with `bindparam()`s, run thousands of times a second.

    On SQLite it is compiled once and executed straight on the driver's cursor, with
    SQLAlchemy's own bind and result processors (so `UtcDateTime` and friends still apply);
    elsewhere it is the ordinary statement."""

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self.compiled: Any = None  # (sql, parameter names, defaults, processors, columns)
        self.pg: Any = None  # the same for asyncpg's `$n` parameters


def compile_prepared(statement: ClauseElement, dialect: Any) -> Any:
    """SQL text, parameter order, default values, bind and result processors, once."""
    compiled = statement.compile(dialect=dialect)
    if compiled._post_compile_expanded_state is not None or compiled.post_compile_params:
        raise ValueError("prepared statements take plain parameters only (no IN lists)")
    defaults = {name: bind.value for bind, name in compiled.bind_names.items()}
    columns = [
        (entry.keyname, entry.type._cached_result_processor(dialect, None))
        for entry in compiled._result_columns
    ]
    return (str(compiled), compiled.positiontup or [], defaults, compiled._bind_processors, columns)


def bind_values(prepared: Any, values: Mapping[str, Any] | None) -> list[Any]:
    _, names, defaults, processors, _ = prepared
    values = values or {}
    parameters = []
    for name in names:
        value = values[name] if name in values else defaults[name]
        processor = processors.get(name)
        parameters.append(processor(value) if processor and value is not None else value)
    return parameters


def result_rows(prepared: Any, rows: Sequence[Any]) -> list[dict[str, Any]]:
    columns = prepared[4]
    return [
        {key: (p(v) if p else v) for (key, p), v in zip(columns, row, strict=True)} for row in rows
    ]


def prepared(statement: ClauseElement) -> Prepared:
    return Prepared(statement)


_ASYNCPG = asyncpg_dialect.dialect()
Query = ClauseElement | str | Prepared
Values = Mapping[str, Any] | None


def normalise_url(url: str) -> str:
    """Accept the usual spellings (`postgres://`, `postgresql+asyncpg://`) for one database."""
    for prefix in ("postgres://", "postgresql+asyncpg://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    return url.replace("sqlite+aiosqlite://", "sqlite://", 1)


def sqlite_path(url: str) -> str:
    path = url.split("://", 1)[1]
    return path[1:] if path.startswith("/") else path  # sqlite:////abs → /abs, sqlite:///rel → rel


def _with_values(statement: ClauseElement, values: Mapping[str, Any]) -> ClauseElement:
    """What `ClauseElement.params()` does, for INSERT/UPDATE statements too."""

    def bind(parameter: sa.BindParameter[Any]) -> None:
        if parameter.key in values:
            parameter.value = values[parameter.key]
            parameter.required = False

    return visitors.cloned_traverse(statement, {}, {"bindparam": bind})


class _SqliteConnection:
    """The shared SQLite connection, with the same coroutine methods as `databases`'."""

    def __init__(self, path: str) -> None:
        self.engine = sa.create_engine(
            f"sqlite:///{path}",
            poolclass=StaticPool,
            connect_args={"check_same_thread": False, "timeout": 30},
        )
        self.conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        for pragma in (
            "journal_mode=WAL",
            "synchronous=NORMAL",
            "foreign_keys=ON",
            "busy_timeout=30000",
            "wal_autocheckpoint=0",
        ):
            self.conn.exec_driver_sql(f"PRAGMA {pragma}")
        self.depth = 0
        self.group_open = False
        self.pending: asyncio.Future[None] | None = None
        # Checkpoints copy the WAL into the database file and fsync it: that can take a
        # hundred milliseconds, so they run on their own connection in a worker thread
        # (`Database` calls `checkpoint` every second) instead of inside a commit on the
        # event loop, where SQLite's automatic checkpoint would run them.
        self.checkpointer = sqlite3.connect(path, check_same_thread=False, timeout=30)

    def checkpoint(self) -> None:
        self.checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def close(self) -> None:
        if self.group_open:
            raw = self.conn.connection.dbapi_connection
            assert raw is not None
            raw.execute("COMMIT")
            self.group_open = False
        self.checkpointer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.checkpointer.close()
        self.conn.close()
        self.engine.dispose()

    def _run(self, query: Query, values: Values) -> sa.CursorResult[Any]:
        statement = sa.text(query) if isinstance(query, str) else query
        return self.conn.execute(statement, dict(values or {}))

    def _cursor(self, query: Prepared, values: Values) -> Any:
        if query.compiled is None:
            query.compiled = compile_prepared(query.statement, self.engine.dialect)
        raw = self.conn.connection.dbapi_connection
        assert raw is not None
        return raw.execute(query.compiled[0], bind_values(query.compiled, values))

    def _rows(self, query: Prepared, cursor: Any) -> list[dict[str, Any]]:
        return result_rows(query.compiled, cursor.fetchall())

    def _all(self, query: Query, values: Values) -> list[dict[str, Any]]:
        if isinstance(query, Prepared):
            return self._rows(query, self._cursor(query, values))
        return [dict(row) for row in self._run(query, values).mappings()]

    async def fetch_all(self, query: Query, values: Values = None) -> list[dict[str, Any]]:
        if isinstance(query, Prepared):  # indexed and short by design: no thread round trip
            return self._all(query, values)
        return await anyio.to_thread.run_sync(self._all, query, values)

    async def fetch_one(self, query: Query, values: Values = None) -> dict[str, Any] | None:
        if isinstance(query, Prepared):
            rows = self._rows(query, self._cursor(query, values))
            return rows[0] if rows else None
        row = self._run(query, values).mappings().first()
        return None if row is None else dict(row)

    async def fetch_val(self, query: Query, values: Values = None) -> Any:
        if isinstance(query, Prepared):
            row = await self.fetch_one(query, values)
            return None if row is None else next(iter(row.values()))
        return self._run(query, values).scalar()

    async def execute(self, query: Query, values: Values = None) -> Any:
        if isinstance(query, Prepared):
            cursor = self._cursor(query, values)
            if query.compiled[4]:  # RETURNING
                rows = self._rows(query, cursor)
                return next(iter(rows[0].values())) if rows else None
            return cursor.lastrowid
        result = self._run(query, values)
        if result.is_insert and not result.returns_rows and result.inserted_primary_key:
            return result.inserted_primary_key[0]
        return result.lastrowid

    async def execute_many(self, query: Query, values: list[Mapping[str, Any]]) -> None:
        if isinstance(query, Prepared):
            for row in values:
                self._cursor(query, row)
            return
        statement = sa.text(query) if isinstance(query, str) else query
        self.conn.execute(statement, [dict(v) for v in values])

    def begin_group(self) -> Any:
        """Open the group transaction unless it is open; the raw driver connection."""
        raw = self.conn.connection.dbapi_connection
        assert raw is not None
        if not self.group_open:
            raw.execute("BEGIN IMMEDIATE")
            self.group_open = True
        return raw

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """One logical transaction: a savepoint inside the open group transaction.

        Group commit: every logical transaction that finishes in the same turn of the event
        loop is made durable by one COMMIT (see `flushed`). Each commit writes every page it
        touched to the WAL (about 40 KB per webhook), so sharing commits divides that I/O.
        Transaction control goes straight to the driver, the engine being in autocommit mode.
        """
        raw = self.begin_group()
        self.depth += 1
        savepoint = f"sp{self.depth}"
        raw.execute(f"SAVEPOINT {savepoint}")
        try:
            yield
        except BaseException:
            raw.execute(f"ROLLBACK TO {savepoint}")
            raw.execute(f"RELEASE {savepoint}")
            raise
        else:
            raw.execute(f"RELEASE {savepoint}")
        finally:
            self.depth -= 1

    def flushed(self, lock: asyncio.Lock) -> asyncio.Future[None]:
        """A future that completes when the group transaction is committed."""
        if self.pending is None:
            loop = asyncio.get_running_loop()
            self.pending = loop.create_future()
            loop.call_soon(self._flush, lock)
        return self.pending

    def _flush(self, lock: asyncio.Lock) -> None:
        if lock.locked():  # someone is mid-transaction (e.g. awaiting a long read): later
            asyncio.get_running_loop().call_soon(self._flush, lock)
            return
        future, self.pending = self.pending, None
        assert future is not None
        raw = self.conn.connection.dbapi_connection
        assert raw is not None
        try:
            if self.group_open:
                raw.execute("COMMIT")
        except Exception as e:
            raw.execute("ROLLBACK")
            future.set_exception(e)
        else:
            future.set_result(None)
        finally:
            self.group_open = False


class Database:
    """A connected database with `fetch_*`, `execute` and nestable `transaction()`."""

    def __init__(self, url: str) -> None:
        self.url = normalise_url(url)
        self.dialect = "sqlite" if self.url.startswith("sqlite") else "postgresql"
        self._pg: databases.Database | None = None
        self._sqlite: _SqliteConnection | None = None
        if self.dialect == "postgresql":
            self._pg = databases.Database(
                self.url, min_size=1, max_size=20, reset=_keep_session_state
            )
        self._lock = asyncio.Lock()
        self._current: ContextVar[Any] = ContextVar(f"db-{id(self)}", default=None)
        self._pending: ContextVar[_Pending | None] = ContextVar(f"db-p-{id(self)}", default=None)
        self._session: ContextVar[Any] = ContextVar(f"db-s-{id(self)}", default=None)
        # Called after each commit with the topics its transaction announced (`announce`).
        self.on_commit: Callable[[set[str]], None] | None = None

    async def connect(self) -> None:
        if self._pg is not None:
            await self._pg.connect()
            return
        path = sqlite_path(self.url)
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._sqlite = _SqliteConnection(path)
        self._checkpoints = asyncio.create_task(self._checkpoint_every(1.0))

    async def _checkpoint_every(self, seconds: float) -> None:
        while True:
            await asyncio.sleep(seconds)
            if self._sqlite is not None:
                await anyio.to_thread.run_sync(self._sqlite.checkpoint)

    async def disconnect(self) -> None:
        if self._sqlite is not None:
            self._checkpoints.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checkpoints
            async with self._lock:
                self._sqlite.close()
            self._sqlite = None
        if self._pg is not None:
            await self._pg.disconnect()

    async def __aenter__(self) -> Database:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.disconnect()

    def _pg_compiled(self, query: Prepared) -> Any:
        if query.pg is None:
            statement = query.statement
            if isinstance(statement, sa.Insert) and not statement._returning:
                # asyncpg has no lastrowid: new ids come back through RETURNING
                statement = statement.returning(*statement.table.primary_key.columns)
            query.pg = compile_prepared(statement, _ASYNCPG)
        return query.pg

    async def _pg_prepared(self, query: Prepared, values: Values) -> list[dict[str, Any]]:
        """A prepared statement on asyncpg directly: compiled once, `$n` parameters."""
        compiled = self._pg_compiled(query)
        async with self._connection() as conn:
            rows = await conn.raw_connection.fetch(compiled[0], *bind_values(compiled, values))
        return result_rows(compiled, rows)

    def _bound(self, query: Query, values: Values) -> tuple[Query, Values]:
        """`databases` reads values of a Core statement as INSERT/UPDATE values; statements
        prebuilt with `bindparam()` get theirs bound here instead."""
        if self._pg is not None and isinstance(query, Prepared):
            query = query.statement
        if self._pg is not None and values and not isinstance(query, str):
            return _with_values(query, values), None
        return query, values

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[None]:
        """Several reads in a row on one connection (PostgreSQL: one pool checkout instead of
        one per statement); no transaction, so each read sees the latest commits. On SQLite,
        where there is one connection anyway, nothing changes."""
        if self._pg is None or self._current.get() is not None or self._session.get():
            yield
            return
        async with self._pg.connection() as conn:
            token = self._session.set(conn)
            try:
                yield
            finally:
                self._session.reset(token)

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[Any]:
        current = self._current.get() or self._session.get()
        if current is not None:
            yield current
        elif self._sqlite is not None:
            async with self._lock:
                yield self._sqlite
        else:
            assert self._pg is not None
            async with self._pg.connection() as conn:
                yield conn

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """All statements inside commit together or not at all.

        Inside another transaction this simply joins it: a failure rolls the whole thing back.
        Where a part must be able to fail on its own, use `savepoint()`."""
        if self._current.get() is not None:
            yield
            return
        flushed = None
        pending = _Pending()
        try:
            async with self._connection() as conn:
                token = self._current.set(conn)
                pending_token = self._pending.set(pending)
                try:
                    async with conn.transaction():
                        yield
                        for action in pending.before_commit.values():
                            await action()
                finally:
                    self._pending.reset(pending_token)
                    self._current.reset(token)
        finally:
            if self._sqlite is not None:  # commit the group, also when this one failed
                flushed = self._sqlite.flushed(self._lock)
                flushed.add_done_callback(lambda f: f.cancelled() or f.exception())
        if flushed is not None:
            # Durable before the caller goes on (and, say, answers the PBX with a 200).
            await flushed
        if pending.topics and self.on_commit is not None:
            self.on_commit(pending.topics)

    def stash(self, key: str, action: Callable[[list[Any]], Awaitable[None]]) -> list[Any]:
        """A list that lives as long as the current transaction; `action(list)` runs on it
        once, at the transaction's end, just before the commit. A savepoint that rolls back
        drops what it added. (Used to write rows as late as possible: `core.events`.)"""
        pending = self._pending.get()
        if pending is None:
            raise RuntimeError("stash() needs a transaction")
        if key not in pending.stashed:
            items: list[Any] = []
            pending.stashed[key] = items
            pending.before_commit[key] = lambda: action(items)
        return pending.stashed[key]

    def announce(self, topic: str) -> None:
        """Tell `on_commit` about `topic` once the current transaction has committed (at once
        outside a transaction). A savepoint that rolls back leaves its topics announced:
        listeners re-read what changed, so a needless announcement costs one read."""
        pending = self._pending.get()
        if pending is not None:
            pending.topics.add(topic)
        elif self.on_commit is not None:
            self.on_commit({topic})

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """A part of the current transaction that rolls back alone when it raises."""
        current = self._current.get()
        if current is None:
            async with self.transaction():
                yield
            return
        pending = self._pending.get()
        marks = {k: len(v) for k, v in pending.stashed.items()} if pending else {}
        try:
            async with current.transaction():
                yield
        except BaseException:
            if pending is not None:  # what the rolled-back part stashed goes with it
                for key, items in pending.stashed.items():
                    del items[marks.get(key, 0) :]
            raise

    async def fetch_all(self, query: Query, values: Values = None) -> list[dict[str, Any]]:
        if self._pg is not None and isinstance(query, Prepared):
            return await self._pg_prepared(query, values)
        query, values = self._bound(query, values)
        async with self._connection() as conn:
            rows = await conn.fetch_all(query, values)
        return rows if self._sqlite else [dict(row._mapping) for row in rows]

    async def fetch_one(self, query: Query, values: Values = None) -> dict[str, Any] | None:
        if self._pg is not None and isinstance(query, Prepared):
            rows = await self._pg_prepared(query, values)
            return rows[0] if rows else None
        query, values = self._bound(query, values)
        async with self._connection() as conn:
            row = await conn.fetch_one(query, values)
        if row is None or self._sqlite:
            return row
        return dict(row._mapping)

    async def fetch_val(self, query: Query, values: Values = None) -> Any:
        if self._pg is not None and isinstance(query, Prepared):
            rows = await self._pg_prepared(query, values)
            return next(iter(rows[0].values())) if rows else None
        query, values = self._bound(query, values)
        async with self._connection() as conn:
            return await conn.fetch_val(query, values)

    async def execute(self, query: Query, values: Values = None) -> Any:
        if self._sqlite is not None and self._current.get() is None:
            async with self.transaction():  # a lone write is committed like any other
                return await self.execute(query, values)
        if self._pg is not None and isinstance(query, Prepared):
            rows = await self._pg_prepared(query, values)
            return next(iter(rows[0].values())) if rows else None
        query, values = self._bound(query, values)
        async with self._connection() as conn:
            return await conn.execute(query, values)

    async def execute_unawaited(self, query: Query, values: Values = None) -> Any:
        """A write whose loss in a crash costs nothing, such as a journal line of a read:
        on SQLite it joins the open group and its COMMIT, which the caller does not wait
        for; elsewhere it is a lone statement. Inside a transaction it is part of it."""
        if self._sqlite is None or self._current.get() is not None:
            return await self.execute(query, values)
        async with self._connection() as conn:
            conn.begin_group()
            result = await conn.execute(query, values)
        flushed = self._sqlite.flushed(self._lock)
        flushed.add_done_callback(lambda f: f.cancelled() or f.exception())
        return result

    async def execute_many(self, query: Query, values: Sequence[Mapping[str, Any]]) -> None:
        if not values:
            return
        if self._sqlite is not None and self._current.get() is None:
            async with self.transaction():
                return await self.execute_many(query, values)
        if isinstance(query, Prepared) and self._pg is not None:
            compiled = self._pg_compiled(query)
            async with self._connection() as conn:  # asyncpg pipelines them: one round trip
                await conn.raw_connection.executemany(
                    compiled[0], [bind_values(compiled, row) for row in values]
                )
            return
        async with self._connection() as conn:
            await conn.execute_many(query, list(values))

    def _insert(self, table: sa.Table) -> Any:
        return (sqlite.insert if self.dialect == "sqlite" else postgresql.insert)(table)

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
            await self.execute(self._upsert(table, columns, tuple(keys), len(batch)), values)

    async def insert_ignore(
        self, table: sa.Table, row: Mapping[str, Any], *, keys: Sequence[str]
    ) -> bool:
        """Insert a row unless one with the same `keys` exists; True when this call inserted it."""
        statement = self._insert_ignore(table, tuple(row), tuple(keys))
        return await self.fetch_one(statement, row) is not None

    @functools.cache  # noqa: B019 - a handful of statement shapes per Database, kept for its life
    def _upsert(
        self, table: sa.Table, columns: tuple[str, ...], keys: tuple[str, ...], rows: int
    ) -> Any:
        statement = self._insert(table).values(
            [
                {c: sa.bindparam(f"{c}_{i}", type_=table.c[c].type) for c in columns}
                for i in range(rows)
            ]
        )
        return Prepared(
            statement.on_conflict_do_update(
                index_elements=list(keys),
                set_={c: statement.excluded[c] for c in columns if c not in keys},
            )
        )

    @functools.cache  # noqa: B019
    def _insert_ignore(
        self, table: sa.Table, columns: tuple[str, ...], keys: tuple[str, ...]
    ) -> Any:
        return Prepared(
            self._insert(table)
            .values({c: sa.bindparam(c) for c in columns})
            .on_conflict_do_nothing(index_elements=list(keys))
            .returning(*(table.c[k] for k in keys))
        )

    async def query_plan(self, query: Query, values: Values = None) -> str:
        """SQLite's EXPLAIN QUERY PLAN for a statement: which indexes it would use."""
        if self._sqlite is None:
            raise NotImplementedError("query plans are read on SQLite")
        statement = query.statement if isinstance(query, Prepared) else query
        compiled = compile_prepared(
            sa.text(statement) if isinstance(statement, str) else statement,
            self._sqlite.engine.dialect,
        )
        raw = self._sqlite.conn.connection.dbapi_connection
        assert raw is not None
        rows = raw.execute("EXPLAIN QUERY PLAN " + compiled[0], bind_values(compiled, values))
        return " | ".join(row[3] for row in rows)

    async def lock(self, name: str) -> None:
        """Serialise transactions that work on the same `name` until the current one ends.

        SQLite needs nothing: its transactions already run one at a time here.
        """
        if self.dialect != "postgresql":
            return
        pending = self._pending.get()
        if pending is not None:
            if name in pending.locks:  # held until the end of this transaction already
                return
            pending.locks.add(name)
        await self.execute(_ADVISORY_LOCK, {"name": name})


_ADVISORY_LOCK = prepared(
    sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(sa.bindparam("name", type_=sa.Text))))
)


async def _keep_session_state(conn: Any) -> None:
    """What asyncpg's pool runs on each connection it takes back, after rolling back any open
    transaction. Its default (`RESET ALL`, `UNLISTEN *`, unlocking session advisory locks) cost
    one more round trip per statement outside a transaction, and this app leaves no such state:
    its advisory locks end with their transaction and it listens on a connection of its own
    (`core.live`)."""


class _Pending:
    """What the current transaction leaves for after its commit, and the locks it holds."""

    __slots__ = ("before_commit", "locks", "stashed", "topics")

    def __init__(self) -> None:
        self.topics: set[str] = set()
        self.locks: set[str] = set()
        self.stashed: dict[str, list[Any]] = {}
        self.before_commit: dict[str, Callable[[], Awaitable[None]]] = {}
