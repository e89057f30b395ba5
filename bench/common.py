"""What the benchmarks share: a fresh database to load, and a free port for the server."""

from __future__ import annotations

import asyncio
import os
import re
import socket
from pathlib import Path

import asyncpg


def fresh_database(kind: str, work: Path, name: str) -> str:
    """The URL of an empty database: a SQLite file in `work`, or PostgreSQL database `name`
    (re)created next to `BENCH_PG`, which may name a Unix socket (`?host=/var/run/postgresql`)."""
    if kind == "sqlite":
        return f"sqlite:///{work}/crm.sqlite3"
    base = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")

    async def recreate() -> None:
        conn = await asyncpg.connect(base)
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await conn.execute(f"CREATE DATABASE {name}")
        await conn.close()

    asyncio.run(recreate())
    path, _, query = base.partition("?")
    return re.sub(r"/[^/]*$", f"/{name}", path) + (f"?{query}" if query else "")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
