"""SQLite, the embedded default: one shared connection, group commit, checkpoints in a thread.

One connection through SQLAlchemy's own engine (stdlib `sqlite3`, WAL mode), used under an
asyncio lock. Short statements run right on the event loop; multi-row reads that are not
prepared run in a worker thread, so a broad search never stalls the loop.

Group commit: logical transactions that end in the same turn of the event loop share one
COMMIT, each in its own savepoint, and every caller awaits that COMMIT, so an answer still
means the data is committed. WAL checkpoints run every second from a worker thread on a
second connection.

A full disk, a read-only file or a failing disk is `StorageUnavailable` (`storage_errors`),
raised at once: a COMMIT that fails fails every logical transaction of its group, which were
not acknowledged, and the next group starts afresh, so writes resume when space returns.

On a full disk or an I/O error SQLite may roll back the whole group transaction by itself, in
the middle of a statement (when a large transaction spills pages to the WAL, say). The group
is then lost: every further statement, savepoint and RELEASE of that group raises
`StorageUnavailable` (a caller that caught the first error and went on would otherwise write
outside any transaction, and a RELEASE would fail as "no such savepoint"), and the group's
waiters get `StorageUnavailable` instead of a COMMIT. Nothing of it is half-applied.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, ClassVar

import anyio.to_thread
import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.pool import StaticPool
from sqlalchemy.sql import ClauseElement

from core.db.commit_hooks import CommitHooks
from core.db.database import Database, Query, Row, Values
from core.db.prepared import Prepared, bind_values, compile_prepared, result_rows
from core.errors import StorageUnavailable
from core.i18n import gettext as _

log = logging.getLogger("crm.db")

CHECKPOINT_EVERY = 1.0  # seconds
# The database holds password hashes, keys and every client: only its owner may read it.
FILE_MODE, DIRECTORY_MODE = 0o600, 0o700


def sqlite_path(url: str) -> str:
    path = url.split("://", 1)[1]
    return path[1:] if path.startswith("/") else path  # sqlite:////abs → /abs, sqlite:///rel → rel


def _statement(query: sa.Executable | str) -> sa.Executable:
    return sa.text(query) if isinstance(query, str) else query


def owner_only(path: str) -> None:
    """The database file and its WAL and shared-memory files readable by the owner only,
    also when an older version of the app created them readable by all (files of another
    owner, which only that owner may change, are left as they are)."""
    for name in (path, f"{path}-wal", f"{path}-shm"):
        with contextlib.suppress(FileNotFoundError, PermissionError):
            os.chmod(name, FILE_MODE)


def _unwritable(error: BaseException) -> str | None:
    """Why the database cannot write, when `error` says it cannot; None for other errors."""
    cause = error.orig if isinstance(error, sa.exc.DBAPIError) else error
    if not isinstance(cause, sqlite3.Error):
        return None
    reasons = {
        sqlite3.SQLITE_FULL: _("на диске кончилось место"),
        sqlite3.SQLITE_IOERR: _("диск не принимает запись"),
        sqlite3.SQLITE_READONLY: _("файл базы данных только для чтения"),
        sqlite3.SQLITE_CANTOPEN: _("файл базы данных не открывается"),
    }
    return reasons.get(getattr(cause, "sqlite_errorcode", 0) & 0xFF)


def unavailable(error: BaseException) -> BaseException:
    """`error` as `StorageUnavailable` when it says the database cannot write, else itself."""
    reason = _unwritable(error)
    if reason is None:
        return error
    translated = StorageUnavailable(reason)
    translated.__cause__ = error
    return translated


@contextmanager
def storage_errors() -> Iterator[None]:
    """SQLite's full disk, read-only file and I/O errors raised as `StorageUnavailable`."""
    try:
        yield
    except (sqlite3.Error, sa.exc.DBAPIError) as e:
        translated = unavailable(e)
        if translated is e:
            raise
        raise translated from e


def lost_group(error: BaseException) -> StorageUnavailable:
    """The error of every statement in a group that SQLite rolled back by itself."""
    reason = _unwritable(error) or _("база данных прервала транзакцию")
    translated = StorageUnavailable(reason)
    translated.__cause__ = error
    return translated


def _retrieve(future: asyncio.Future[None]) -> None:
    """Read a group's outcome that nobody awaits, so asyncio does not log it as lost."""
    if not future.cancelled():
        future.exception()


class SharedConnection:
    """The one connection, its group transaction and its checkpoints; every method is sync."""

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
        raw = self.conn.connection.dbapi_connection
        assert raw is not None
        self.raw: sqlite3.Connection = raw  # type: ignore[assignment]  # typed as DB-API only
        self.depth = 0
        self.group_open = False
        # Why SQLite rolled back the open group by itself (a full disk), until it ends.
        self.lost: BaseException | None = None
        self.pending: asyncio.Future[None] | None = None
        # Checkpoints copy the WAL into the database file and fsync it: that can take a
        # hundred milliseconds, so they run on their own connection in a worker thread
        # (`SqliteDatabase` calls `checkpoint` every second) instead of inside a commit on
        # the event loop, where SQLite's automatic checkpoint would run them.
        self.checkpointer = sqlite3.connect(path, check_same_thread=False, timeout=30)

    def checkpoint(self) -> None:
        self.checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def check_writable(self) -> None:
        """Raise `StorageUnavailable` now if the database cannot be written (a read-only
        file opens and reads fine; only a write says so): a header write, rolled back."""
        with storage_errors():
            self.raw.execute("BEGIN IMMEDIATE")
            try:
                version = self.raw.execute("PRAGMA user_version").fetchone()[0]
                self.raw.execute(f"PRAGMA user_version = {int(version)}")
            finally:
                self.raw.execute("ROLLBACK")

    def close(self) -> None:
        if self.group_open:
            self.raw.execute("COMMIT")
            self.group_open = False
        with contextlib.suppress(sqlite3.Error):  # a full or read-only disk: the WAL stays
            self.checkpointer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.checkpointer.close()
        self.conn.close()
        self.engine.dispose()

    @contextmanager
    def guarded(self) -> Iterator[None]:
        """Around every statement: `StorageUnavailable` at once in a lost group, a group
        noted as lost when SQLite rolls it back under a statement, storage errors translated."""
        if self.lost is not None:
            raise lost_group(self.lost)
        try:
            yield
        except (sqlite3.Error, sa.exc.DBAPIError) as e:
            if self.group_open and not self.raw.in_transaction:
                self.lost = e
                raise lost_group(e) from e
            translated = unavailable(e)
            if translated is e:
                raise
            raise translated from e

    # Statements

    def run(self, query: sa.Executable | str, values: Values) -> sa.CursorResult[Any]:
        return self.conn.execute(_statement(query), dict(values or {}))

    def cursor(self, query: Prepared, values: Values) -> sqlite3.Cursor:
        compiled = query.sqlite
        if compiled is None:
            compiled = query.sqlite = compile_prepared(query.statement, self.engine.dialect)
        return self.raw.execute(compiled.sql, bind_values(compiled, values))

    def rows(self, query: Prepared, cursor: sqlite3.Cursor) -> list[Row]:
        assert query.sqlite is not None
        return result_rows(query.sqlite, cursor.fetchall())

    def fetch_all(self, query: Query, values: Values) -> list[Row]:
        if isinstance(query, Prepared):
            return self.rows(query, self.cursor(query, values))
        return [dict(row) for row in self.run(query, values).mappings()]

    def fetch_one(self, query: Query, values: Values) -> Row | None:
        if isinstance(query, Prepared):
            rows = self.rows(query, self.cursor(query, values))
            return rows[0] if rows else None
        row = self.run(query, values).mappings().first()
        return None if row is None else dict(row)

    def fetch_val(self, query: Query, values: Values) -> Any:
        if isinstance(query, Prepared):
            row = self.fetch_one(query, values)
            return None if row is None else next(iter(row.values()))
        return self.run(query, values).scalar()

    def execute(self, query: Query, values: Values) -> Any:
        if isinstance(query, Prepared):
            cursor = self.cursor(query, values)
            if query.sqlite and query.sqlite.columns:  # RETURNING
                rows = self.rows(query, cursor)
                return next(iter(rows[0].values())) if rows else None
            return cursor.lastrowid
        result = self.run(query, values)
        if result.is_insert and not result.returns_rows and result.inserted_primary_key:
            return result.inserted_primary_key[0]
        return result.lastrowid

    def execute_many(self, query: Query, values: Sequence[Mapping[str, Any]]) -> None:
        if isinstance(query, Prepared):
            for row in values:
                self.cursor(query, row)
            return
        self.conn.execute(_statement(query), [dict(v) for v in values])

    # Group commit

    def begin_group(self) -> None:
        """Open the group transaction unless it is open (a lost one raises until it ends)."""
        if self.lost is not None:
            raise lost_group(self.lost)
        if not self.group_open:
            self.raw.execute("BEGIN IMMEDIATE")
            self.group_open = True

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A savepoint inside the open group transaction: one logical transaction, or a part
        of one. Transaction control goes straight to the driver, the engine being in
        autocommit mode."""
        self.begin_group()
        self.depth += 1
        name = f"sp{self.depth}"
        self.raw.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            if self.group_open and not self.raw.in_transaction and self.lost is None:
                self.lost = sqlite3.OperationalError("the transaction was rolled back")
            if self.lost is None:
                try:
                    self.raw.execute(f"ROLLBACK TO {name}")
                    self.raw.execute(f"RELEASE {name}")
                except sqlite3.Error as e:  # the part may still be in the group: drop it all
                    self.lost = e
            raise
        else:
            if self.group_open and not self.raw.in_transaction and self.lost is None:
                self.lost = sqlite3.OperationalError("the transaction was rolled back")
            if self.lost is not None:  # the part's work went with the group: not done
                raise lost_group(self.lost)
            self.raw.execute(f"RELEASE {name}")
        finally:
            self.depth -= 1

    def flushed(self, lock: asyncio.Lock) -> asyncio.Future[None]:
        """A future that completes when the group transaction is committed.

        Every logical transaction that finishes in the same turn of the event loop is made
        durable by one COMMIT. Each commit writes every page it touched to the WAL (about
        40 KB per webhook), so sharing commits divides that I/O."""
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
        lost, self.lost = self.lost, None
        try:
            if lost is not None:
                raise lost_group(lost)
            if self.group_open:
                self.raw.execute("COMMIT")
        except Exception as e:
            # Every waiter learns of it (none may hang): the group is rolled back, if SQLite
            # has not done so itself, and the next transaction opens a new group.
            if self.raw.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    self.raw.execute("ROLLBACK")
            future.set_exception(unavailable(e))
        else:
            future.set_result(None)
        finally:
            self.group_open = False

    def query_plan(self, query: Query, values: Values) -> str:
        statement = query.statement if isinstance(query, Prepared) else _statement(query)
        assert isinstance(statement, ClauseElement)
        sql: str
        try:
            compiled = compile_prepared(statement, self.engine.dialect)
            sql, params = compiled.sql, bind_values(compiled, values)
        except ValueError:  # IN lists, which a prepared statement cannot take: values written in
            literal = statement.compile(
                dialect=self.engine.dialect, compile_kwargs={"literal_binds": True}
            )
            sql, params = str(literal), []
        rows = self.raw.execute("EXPLAIN QUERY PLAN " + sql, params)
        return " | ".join(row[3] for row in rows)


class SqliteDatabase(Database):
    """SQLite on one shared connection; transactions run one at a time, under a lock."""

    dialect: ClassVar[str] = "sqlite"

    _conn: SharedConnection

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self._insert = sqlite.insert
        self._lock = asyncio.Lock()
        self._in_transaction: ContextVar[bool] = ContextVar(f"db-t-{id(self)}", default=False)
        self._checkpoints: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        path = sqlite_path(self.url)
        on_disk = bool(path) and path != ":memory:"
        if on_disk:
            Path(path).parent.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)
        with storage_errors():  # a directory it may not write to, say
            self._conn = SharedConnection(path)
        try:
            self._conn.check_writable()
        except StorageUnavailable:
            self._conn.close()
            raise
        if on_disk:
            owner_only(path)
        self._checkpoints = asyncio.create_task(self._checkpoint_every(CHECKPOINT_EVERY))

    async def _checkpoint_every(self, seconds: float) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await anyio.to_thread.run_sync(self._conn.checkpoint)
            except sqlite3.Error as e:  # a full disk: the WAL waits for the next one
                log.warning("WAL checkpoint failed: %s", e)

    async def disconnect(self) -> None:
        if self._checkpoints is None:
            return
        self._checkpoints.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._checkpoints
        self._checkpoints = None
        async with self._lock:
            self._conn.close()

    # Statements: on the connection at once inside a transaction, under the lock outside one.

    async def fetch_all(self, query: Query, values: Values = None) -> list[Row]:
        with self._conn.guarded():
            if isinstance(query, Prepared):  # indexed and short by design: no thread round trip
                if self._in_transaction.get():
                    return self._conn.fetch_all(query, values)
                async with self._lock:
                    return self._conn.fetch_all(query, values)
            if self._in_transaction.get():
                return await anyio.to_thread.run_sync(self._conn.fetch_all, query, values)
            async with self._lock:
                return await anyio.to_thread.run_sync(self._conn.fetch_all, query, values)

    async def fetch_one(self, query: Query, values: Values = None) -> Row | None:
        with self._conn.guarded():
            if self._in_transaction.get():
                return self._conn.fetch_one(query, values)
            async with self._lock:
                return self._conn.fetch_one(query, values)

    async def fetch_val(self, query: Query, values: Values = None) -> Any:
        with self._conn.guarded():
            if self._in_transaction.get():
                return self._conn.fetch_val(query, values)
            async with self._lock:
                return self._conn.fetch_val(query, values)

    async def execute(self, query: Query, values: Values = None) -> Any:
        with self._conn.guarded():
            if self._in_transaction.get():
                return self._conn.execute(query, values)
            async with self.transaction():  # a lone write is committed like any other
                return self._conn.execute(query, values)

    async def execute_unawaited(self, query: Query, values: Values = None) -> Any:
        """Outside a transaction it joins the open group and its COMMIT, which the caller
        does not wait for."""
        with self._conn.guarded():
            if self._in_transaction.get():
                return self._conn.execute(query, values)
            async with self._lock:
                self._conn.begin_group()
                result = self._conn.execute(query, values)
        self._conn.flushed(self._lock).add_done_callback(_retrieve)
        return result

    async def execute_many(self, query: Query, values: Sequence[Mapping[str, Any]]) -> None:
        if not values:
            return
        if self._in_transaction.get():
            with self._conn.guarded():
                self._conn.execute_many(query, values)
            return
        async with self.transaction():
            with self._conn.guarded():
                self._conn.execute_many(query, values)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """One logical transaction: a savepoint inside the open group transaction, committed
        with the group (`SharedConnection.flushed`)."""
        if self._in_transaction.get():
            yield
            return
        hooks = CommitHooks()
        conn = self._conn
        try:
            async with self._lock:
                token = self._in_transaction.set(True)
                hooks_token = self._hooks.set(hooks)
                try:
                    with storage_errors(), conn.savepoint():
                        yield
                        await hooks.before_commit()
                finally:
                    self._hooks.reset(hooks_token)
                    self._in_transaction.reset(token)
        finally:  # commit the group, also when this one failed
            flushed = conn.flushed(self._lock)
            flushed.add_done_callback(_retrieve)
        # Durable before the caller goes on (and, say, answers the PBX with a 200).
        await flushed
        self._committed(hooks)

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        if not self._in_transaction.get():
            async with self.transaction():
                yield
            return
        hooks = self._hooks.get()
        mark = hooks.mark() if hooks is not None else {}
        try:
            with storage_errors(), self._conn.savepoint():
                yield
        except BaseException:
            if hooks is not None:  # what the rolled-back part added goes with it
                hooks.roll_back_to(mark)
            raise

    async def lock(self, name: str) -> None:
        """Nothing to do: transactions already run one at a time here."""

    def _skip_locked(self, query: sa.Select[Any]) -> sa.Select[Any]:
        return query  # one writer at a time, across processes too (BEGIN IMMEDIATE)

    async def query_plan(self, query: Query, values: Values = None) -> str:
        """SQLite's EXPLAIN QUERY PLAN for a statement: which indexes it would use."""
        return self._conn.query_plan(query, values)
