"""The one place that knows the database drivers: connections, transactions, dialects.

`Database(url)` gives the engine the URL names, chosen once; callers see one API either way:
`fetch_all/one/val`, `execute`, `execute_many`, `upsert`, `insert_ignore`, `claim`, `lock`,
`query_plan`, `transaction()` (joins an outer one) and `savepoint()`; rows are dicts.

- `database`: the `Database` interface and what both engines share.
- `sqlite`: the embedded default; one shared connection, group commit, WAL checkpoints in
  a worker thread.
- `postgres`: `databases` with asyncpg's pool, advisory locks.
- `prepared`: statements for the hot paths, compiled once and run straight on the driver.
- `commit_hooks`: what a transaction writes just before its commit (`before_commit`) and
  announces just after it (`announce`, heard by `after_commit`).
"""

from core.db import postgres, sqlite
from core.db.database import Database, Query, Row, Values
from core.db.postgres import PostgresDatabase
from core.db.prepared import Prepared, prepared
from core.db.sqlite import SqliteDatabase

__all__ = [
    "Database",
    "PostgresDatabase",
    "Prepared",
    "Query",
    "Row",
    "SqliteDatabase",
    "Values",
    "postgres",
    "prepared",
    "sqlite",
]
