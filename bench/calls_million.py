"""«Звонки» at a million calls: the journal's first page for every filter, «Аналитика» for a
month, the «Пропущенные» queue and the export of the whole journal, on SQLite or PostgreSQL.

    .venv/bin/python bench/calls_million.py                      # SQLite, 1,000,000 calls
    .venv/bin/python bench/calls_million.py --db postgresql      # BENCH_PG or TEST_DATABASE_URL
    .venv/bin/python bench/calls_million.py --calls 20000 --rounds 3 --no-export

A project with `--calls` calls over a year across 50 employees and `--clients` clients (with
their search terms, so a search by name works), and the «Пропущенные» items those calls leave,
is bulk-loaded once and cached (a SQLite file under `--work`, a PostgreSQL database named for
the size), then reused. Loading is setup; only the app's own functions are timed: the median
and p95 of `--rounds` runs of `call_journal.page` (what «Звонки» shows), `call_analytics.
analytics`, `missed_queue.queue`, and the CSV and XLSX export streamed end to end, with rows/s
and the growth of the process's resident memory sampled during the stream. Each journal query's
plan is printed and must be an index range (SQLite: SEARCH … USING INDEX; PostgreSQL: an Index,
Index Only or Bitmap Index Scan), never a scan of `calls`. The ceiling to compare with is a
bare `SELECT … ORDER BY id DESC LIMIT 51` of the project's calls on the same database. CPU is
the process's own (user + system) over the wall time of each part.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import sqlite3
import statistics
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from core import search  # noqa: E402
from core.db import Database  # noqa: E402
from core.migrations import migrate  # noqa: E402
from core.tables import calls, missed_calls  # noqa: E402
from core.telephony import call_journal  # noqa: E402
from core.telephony.call_journal import JournalFilter  # noqa: E402

EMPLOYEES = 50
NAMES = ["Иван", "Мария", "Алексей", "Ольга", "Дмитрий", "Анна", "Сергей", "Елена", "Павел"]
SURNAMES = ["Смирнов", "Кузнецов", "Попов", "Васильев", "Соколов", "Морозов", "Волков", "Лебедев"]
SURNAMES += ["Новиков", "Фёдоров", "Михайлов", "Беляев", "Тарасов", "Белов", "Комаров", "Орлов"]
# How calls end, as a sales team's PBX reports them: (status, weight) per direction.
INBOUND = [("Success", 74), ("Missed", 20), ("Cancel", 5), ("NotAvailable", 1)]
OUTBOUND = [
    ("Success", 55),
    ("Cancel", 14),
    ("NotAvailable", 14),
    ("Busy", 13),
    ("NotAllowed", 3),
    ("NotFound", 1),
]
HOURS = [0, 0, 0, 0, 0, 0, 0, 1, 3, 8, 10, 10, 9, 8, 9, 10, 10, 9, 6, 3, 2, 1, 1, 0]  # weights
HAND_CLOSE_AFTER = timedelta(days=2)  # an item nobody reached is closed by hand after this
PG_NAME = "bench_calls_{calls}"
PARTS = ("journal", "analytics", "missed", "csv", "xlsx")


def phone(i: int) -> str:
    return f"79{(i * 7919 + 1234567) % 10**9:09d}"


def eight_format(digits: str) -> str:
    return f"8 ({digits[1:4]}) {digits[4:7]}-{digits[7:9]}-{digits[9:]}"


def pbx_user(k: int) -> str:
    return f"manager{k:02d}"


# Generating the data (the same rows for both databases)


@dataclass(frozen=True)
class Size:
    calls: int
    clients: int


def call_times(size: Size, end: datetime, rng: random.Random) -> list[datetime]:
    """`size.calls` moments over the year before `end`, in working hours mostly, in order."""
    start = end - timedelta(days=365)
    days = [start + timedelta(days=d) for d in range(1, 366)]
    weights = [0.5 if d.weekday() >= 5 else 1.0 for d in days]
    moments = []
    for day, hour in zip(
        rng.choices(days, weights, k=size.calls),
        rng.choices(range(24), HOURS, k=size.calls),
        strict=True,
    ):
        midnight = day.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(hours=3)
        moments.append(midnight + timedelta(hours=hour, seconds=rng.random() * 3600))
    return sorted(m for m in moments if m < end)


def clients_rows(size: Size, project_id: int, now: datetime) -> Iterator[tuple[Any, ...]]:
    rng = random.Random(2)
    for i in range(1, size.clients + 1):
        yield (i, project_id, f"{rng.choice(NAMES)} {rng.choice(SURNAMES)}", phone(i), now)


def calls_rows(
    size: Size, project_id: int, end: datetime, missed: list[tuple[Any, ...]]
) -> Iterator[tuple[Any, ...]]:
    """The calls, oldest first; the «Пропущенные» items they leave go into `missed`."""
    rng = random.Random(1)
    regulars = max(1, size.clients // 40)  # a fortieth of the clients make a third of the calls
    employees = [pbx_user(k) for k in range(EMPLOYEES)]
    busy = [1 + (k % 7) for k in range(EMPLOYEES)]  # some managers take more calls than others
    open_items: dict[int, list[Any]] = {}
    for i, created in enumerate(call_times(size, end, rng), start=1):
        client = rng.randint(1, regulars) if rng.random() < 0.33 else rng.randint(1, size.clients)
        inbound = rng.random() < 0.6
        status = rng.choices(*zip(*(INBOUND if inbound else OUTBOUND), strict=True))[0]
        answered = status == "Success"
        user = rng.choices(employees, busy)[0]
        if inbound and not answered and rng.random() < 0.5:
            user = ""  # rang the group, nobody picked up
        wait = rng.randint(2, 40)
        talk = rng.randint(15, 900) if answered else 0
        accepted = created + timedelta(seconds=wait) if answered else None
        ended = created + timedelta(seconds=wait + talk)
        yield (
            i,
            project_id,
            f"bench-{i}",
            client,
            phone(client),
            "in" if inbound else "out",
            user,
            user[7:9] if user else "",
            "74950000000",
            "COMPLETED",
            status,
            created,
            talk,
            wait,
            f"https://pbx.example/records/{i}.mp3" if answered else "",
            rng.randint(1, 5) if answered and rng.random() < 0.3 else None,
            created if inbound else None,
            accepted,
            ended,
            created,
            ended,
        )
        item = open_items.get(client)
        if inbound and not answered:
            if item is None:
                open_items[client] = [client, i, i, created, created, 1]
            else:
                item[2], item[4], item[5] = i, created, item[5] + 1
        elif answered and item is not None:
            del open_items[client]
            seconds = int((created - item[3]).total_seconds())
            kind = "inbound" if inbound else "outbound"
            missed.append((*item, created, kind, "", i, user, seconds))
        if i % 1000:
            continue
        for stale in [c for c, it in open_items.items() if created - it[4] > HAND_CLOSE_AFTER]:
            it = open_items.pop(stale)
            missed.append((*it, it[4] + HAND_CLOSE_AFTER, "manual", "not_relevant", None, "", None))
    missed.extend((*it, None, "", "", None, "", None) for it in open_items.values())


CALL_COLUMNS = (
    "id, project_id, callid, client_id, phone, direction, pbx_user, ext, telnum, last_event, "
    "status, started_at, duration, wait, record_link, rating, incoming_at, accepted_at, "
    "ended_at, created_at, updated_at"
)
MISSED_COLUMNS = (
    "client_id, first_call_id, last_call_id, opened_at, last_attempt_at, attempts, closed_at, "
    "close_kind, close_reason, closed_by_call_id, closed_by_pbx_user, callback_seconds"
)


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def fill_sqlite(path: str, size: Size, end: datetime, batch: int = 50_000) -> None:
    """Bulk-load with sqlite3 itself: loading is setup, only the app's reads are measured."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    now = _sqlite_value(end)
    project_id = conn.execute(
        "INSERT INTO projects (name, messengers, created_at) VALUES ('bench', '', ?)", (now,)
    ).lastrowid
    assert project_id is not None
    conn.executemany(
        "INSERT INTO users (project_id, email, name, role, password_hash, call_method, "
        "pbx_user, is_active, created_at) VALUES (?, ?, ?, 'manager', '!', 'pbx', ?, 1, ?)",
        [
            (project_id, f"m{k}@sales.example", f"Менеджер {k:02d}", pbx_user(k), now)
            for k in range(EMPLOYEES)
        ],
    )
    rows = list(clients_rows(size, project_id, end))
    conn.executemany(
        "INSERT INTO clients (id, project_id, name, client_type, phone, created_at) "
        "VALUES (?, ?, ?, 'telephony', ?, ?)",
        [(*r[:4], now) for r in rows],
    )
    conn.executemany(
        "INSERT INTO search_terms (project_id, term, client_id, kind) VALUES (?, ?, ?, ?)",
        [
            (project_id, term, r[0], kind)
            for r in rows
            for term, kind in search.terms_for(r[2], r[3], [])
        ],
    )
    conn.commit()
    missed: list[tuple[Any, ...]] = []
    started = time.perf_counter()
    pending = []
    insert = f"INSERT INTO calls ({CALL_COLUMNS}) VALUES ({', '.join('?' * 21)})"
    for n, row in enumerate(calls_rows(size, project_id, end, missed), start=1):
        pending.append([_sqlite_value(v) for v in row])
        if len(pending) == batch:
            conn.executemany(insert, pending)
            conn.commit()
            pending.clear()
            if n % 200_000 == 0:
                print(f"  {n:>9} calls loaded, {time.perf_counter() - started:.0f} s", flush=True)
    conn.executemany(insert, pending)
    conn.executemany(
        f"INSERT INTO missed_calls (project_id, phone, {MISSED_COLUMNS}) "
        f"VALUES ({project_id}, '', {', '.join('?' * 12)})",
        [[_sqlite_value(v) for v in m] for m in missed],
    )
    conn.commit()
    conn.execute("ANALYZE")
    conn.commit()
    conn.close()


async def fill_postgres(url: str, size: Size, end: datetime) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        project_id = await conn.fetchval(
            "INSERT INTO projects (name, messengers, created_at) VALUES ('bench', '', $1) "
            "RETURNING id",
            end,
        )
        await conn.executemany(
            "INSERT INTO users (project_id, email, name, role, password_hash, call_method, "
            "pbx_user, is_active, created_at) VALUES ($1, $2, $3, 'manager', '!', 'pbx', $4, "
            "true, $5)",
            [
                (project_id, f"m{k}@sales.example", f"Менеджер {k:02d}", pbx_user(k), end)
                for k in range(EMPLOYEES)
            ],
        )
        rows = list(clients_rows(size, project_id, end))
        await conn.copy_records_to_table(
            "clients",
            records=[(*r, "telephony") for r in rows],
            columns=["id", "project_id", "name", "phone", "created_at", "client_type"],
        )
        await conn.copy_records_to_table(
            "search_terms",
            records=[
                (project_id, term, r[0], kind)
                for r in rows
                for term, kind in search.terms_for(r[2], r[3], [])
            ],
            columns=["project_id", "term", "client_id", "kind"],
        )
        missed: list[tuple[Any, ...]] = []
        columns = [c.strip() for c in CALL_COLUMNS.split(",")]
        await conn.copy_records_to_table(
            "calls", records=calls_rows(size, project_id, end, missed), columns=columns
        )
        await conn.copy_records_to_table(
            "missed_calls",
            records=[(project_id, "", *m) for m in missed],
            columns=["project_id", "phone", *(c.strip() for c in MISSED_COLUMNS.split(","))],
        )
        for table in ("clients", "calls", "missed_calls", "users"):
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


async def loaded(url: str, size: Size) -> bool:
    async with Database(url) as db:
        await migrate(db)
        return bool(await db.fetch_val(sa.select(sa.func.count()).select_from(missed_calls)))


def database(kind: str, size: Size, work: Path) -> tuple[str, datetime]:
    """The URL of the cached database of this size, loaded now unless it was; the moment its
    calls end (the bench's «now»)."""
    end = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
    if kind == "sqlite":
        work.mkdir(parents=True, exist_ok=True)
        path = work / f"calls-{size.calls}-{size.clients}.sqlite3"
        url = f"sqlite:///{path}"
        if not asyncio.run(loaded(url, size)):
            print(f"loading {size.calls} calls into {path} (once) …", flush=True)
            fill_sqlite(str(path), size, end)
        return url, end
    base = os.environ.get("BENCH_PG") or os.environ.get("TEST_DATABASE_URL")
    if not base:
        raise SystemExit("--db postgresql needs BENCH_PG or TEST_DATABASE_URL")
    url, name = _pg_url(base, PG_NAME.format(calls=size.calls))
    if not asyncio.run(_pg_exists(base, name)):
        from common import fresh_database

        os.environ["BENCH_PG"] = base
        fresh_database("postgresql", work, name)
        asyncio.run(loaded(url, size))  # the schema
        print(f"loading {size.calls} calls into PostgreSQL database {name} (once) …", flush=True)
        asyncio.run(fill_postgres(url, size, end))
    return url, end


def _pg_url(base: str, name: str) -> tuple[str, str]:
    path, _, query = base.partition("?")
    return path.rsplit("/", 1)[0] + f"/{name}" + (f"?{query}" if query else ""), name


async def _pg_exists(base: str, name: str) -> bool:
    import asyncpg

    conn = await asyncpg.connect(base)
    try:
        found = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
    finally:
        await conn.close()
    if not found:
        return False
    other = await asyncpg.connect(_pg_url(base, name)[0])
    try:
        return bool(await other.fetchval("SELECT EXISTS (SELECT 1 FROM missed_calls)"))
    except asyncpg.UndefinedTableError:
        return False
    finally:
        await other.close()


# Measuring


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


@dataclass
class Timing:
    label: str
    median_ms: float
    p95_ms: float
    cpu_share: float  # the process's CPU over the wall time
    rows: int


async def timed(label: str, rounds: int, run: Callable[[], Awaitable[int]]) -> Timing:
    await run()  # warm the page cache and the statement caches
    times = []
    rows = 0
    cpu_before, wall_before = cpu(), time.perf_counter()
    for _ in range(rounds):
        started = time.perf_counter()
        rows = await run()
        times.append((time.perf_counter() - started) * 1000)
    share = (cpu() - cpu_before) / (time.perf_counter() - wall_before)
    times.sort()
    p95 = times[max(0, round(len(times) * 0.95) - 1)]
    result = Timing(label, statistics.median(times), p95, share, rows)
    print(
        f"{label:<38} median {result.median_ms:7.2f} ms   p95 {result.p95_ms:7.2f} ms   "
        f"cpu {share:4.0%}   rows {rows}",
        flush=True,
    )
    return result


INDEX_RANGE = {
    "sqlite": ("USING INDEX", "USING COVERING INDEX", "USING INTEGER PRIMARY KEY"),
    "postgresql": ("Index Scan", "Index Only Scan", "Bitmap Index Scan"),
}


async def plan(db: Database, query: sa.Select[Any]) -> str:
    """The database's plan for `query` (values written in), one step after another."""
    dialect = sqlite.dialect() if db.dialect == "sqlite" else postgresql.dialect()
    sql = str(query.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    explain = "EXPLAIN QUERY PLAN " if db.dialect == "sqlite" else "EXPLAIN "
    rows = await db.fetch_all(sa.text(explain + sql.replace(":", "\\:")))
    return " | ".join(str(r.get("detail") or r.get("QUERY PLAN")).strip() for r in rows)


def check_plan(dialect: str, label: str, text: str) -> None:
    steps = [s.strip() for s in text.split("|")]
    scans = [s for s in steps if s.startswith("SCAN calls") or s.startswith("Seq Scan on calls")]
    print(f"    plan: {text}")
    assert any(m in text for m in INDEX_RANGE[dialect]), f"{label}: no index range: {text}"
    assert not [s for s in scans if "INDEX" not in s], f"{label}: scans calls: {text}"


def filters(end: datetime, project_client: int) -> dict[str, JournalFilter]:
    def period(name: str) -> JournalFilter:
        start, stop = call_journal.period_bounds(name, None, None, end)
        return JournalFilter(start=start, end=stop)

    spring_start, spring_end = call_journal.period_bounds(
        "", (end - timedelta(days=240)).date(), (end - timedelta(days=210)).date(), end
    )
    number = phone(3)
    return {
        "no filter": JournalFilter(),
        "today": period("today"),
        "yesterday": period("yesterday"),
        "this week": period("week"),
        "this month": period("month"),
        "30 days eight months ago": JournalFilter(start=spring_start, end=spring_end),
        "incoming": JournalFilter(direction="in"),
        "outgoing": JournalFilter(direction="out"),
        "status Success": JournalFilter(status="Success"),
        "status Missed": JournalFilter(status="Missed"),
        "status NotFound (rare)": JournalFilter(status="NotFound"),
        "employee": JournalFilter(pbx_user=pbx_user(7)),
        "employee, missed, this month": JournalFilter(
            start=period("month").start, end=end, status="Missed", pbx_user=pbx_user(7)
        ),
        "client": JournalFilter(client_id=project_client),
        "number 79…": JournalFilter(search=number),
        "number +7 …": JournalFilter(search="+" + number),
        "number 8 (…) …-..-..": JournalFilter(search=eight_format(number)),
        "name (surname prefix)": JournalFilter(search="тарасов"),
        "name (first and last)": JournalFilter(search="мария смир"),
    }


async def journal(db: Database, project_id: int, end: datetime, rounds: int) -> list[Timing]:
    results = []
    limit = call_journal.PAGE_SIZE + 1

    async def ceiling() -> int:
        rows = await db.fetch_all(
            sa.select(calls)
            .where(calls.c.project_id == project_id)
            .order_by(calls.c.id.desc())
            .limit(limit)
        )
        return len(rows)

    results.append(await timed("ceiling: bare SELECT … LIMIT 51", rounds, ceiling))
    for label, f in filters(end, project_client=3).items():

        async def first_page(f: JournalFilter = f) -> int:
            return len((await call_journal.page(db, project_id, f)).rows)

        results.append(await timed(f"journal: {label}", rounds, first_page))
        query = await call_journal.first_page_query(db, project_id, f)
        check_plan(db.dialect, label, await plan(db, query))
    return results


async def analytics(db: Database, project_id: int, end: datetime, rounds: int) -> list[Timing]:
    try:
        from core.telephony import call_analytics
    except ImportError:
        print("«Аналитика»: core/telephony/call_analytics.py is not there yet: skipped")
        return []
    start, stop = call_journal.period_bounds("month", None, None, end)
    month_ago = (end - timedelta(days=30)).date()
    whole_start, whole_end = call_journal.period_bounds("", month_ago, end.date(), end)
    results = []
    for label, f in {
        "analytics: this month": JournalFilter(start=start, end=stop),
        "analytics: last 30 days": JournalFilter(start=whole_start, end=whole_end),
        "analytics: 30 days, one employee": JournalFilter(
            start=whole_start, end=whole_end, pbx_user=pbx_user(7)
        ),
    }.items():

        async def run(f: JournalFilter = f) -> int:
            found = await call_analytics.analytics(db, project_id, f)
            return len(found.days)

        results.append(await timed(label, rounds, run))
    return results


async def missed_queue(db: Database, project_id: int, rounds: int) -> list[Timing]:
    try:
        from core.telephony import missed_queue as queue_module
    except ImportError:
        print("«Пропущенные»: core/telephony/missed_queue.py is not there yet: skipped")
        return []

    async def queue() -> int:
        return len(await queue_module.queue(db, project_id))

    async def count() -> int:
        return int(await queue_module.open_count(db, project_id))

    return [
        await timed("missed: the queue (open items)", rounds, queue),
        await timed("missed: the nav's count", rounds, count),
    ]


async def export(db: Database, project_id: int, kind: str) -> None:
    """The whole journal as CSV or XLSX, streamed and thrown away: rows/s, time to the first
    byte, and the growth of resident memory sampled at every chunk."""
    rows = call_journal.rows_for_export(db, project_id, JournalFilter())
    chunks: AsyncIterator[bytes] = (
        call_journal.csv_chunks(rows) if kind == "csv" else call_journal.xlsx_chunks(rows)
    )
    baseline = peak = rss_mb()
    size = 0
    first: float | None = None
    cpu_before, started = cpu(), time.perf_counter()
    async for chunk in chunks:
        if first is None:
            first = time.perf_counter() - started
        size += len(chunk)
        peak = max(peak, rss_mb())
    wall = time.perf_counter() - started
    total = await db.fetch_val(
        sa.select(sa.func.count()).select_from(calls).where(calls.c.project_id == project_id)
    )
    print(
        f"export {kind.upper():<4} {total} rows in {wall:6.1f} s = {total / wall:8.0f} rows/s   "
        f"first byte after {first or 0:5.2f} s   {size / 2**20:6.0f} MB   "
        f"RSS {baseline:.0f} → peak {peak:.0f} MB (+{peak - baseline:.0f})   "
        f"cpu {(cpu() - cpu_before) / wall:4.0%}",
        flush=True,
    )


async def measure(url: str, end: datetime, rounds: int, parts: set[str]) -> None:
    async with Database(url) as db:
        project_id = await db.fetch_val("SELECT MIN(id) FROM projects")
        total = await db.fetch_val(sa.select(sa.func.count()).select_from(calls))
        print(f"{total} calls, {db.dialect}; medians and p95 of {rounds} runs")
        cpu_before, started = cpu(), time.perf_counter()
        if "journal" in parts:
            await journal(db, project_id, end, rounds)
        if "analytics" in parts:
            await analytics(db, project_id, end, max(3, rounds // 4))
        if "missed" in parts:
            await missed_queue(db, project_id, rounds)
        for kind in ("csv", "xlsx"):
            if kind in parts:
                await export(db, project_id, kind)
        wall = time.perf_counter() - started
        print(f"process CPU {cpu() - cpu_before:.1f} s over {wall:.1f} s wall")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--work", type=Path, default=Path("/tmp/crm-bench-calls"))
    parser.add_argument(
        "--parts", default=",".join(PARTS), help="what to measure, of " + ",".join(PARTS)
    )
    parser.add_argument("--no-export", action="store_true", help="all parts but csv, xlsx")
    args = parser.parse_args(argv)
    size = Size(args.calls, min(args.clients, args.calls))
    url, end = database(args.db, size, args.work)
    parts = set(args.parts.split(",")) - ({"csv", "xlsx"} if args.no_export else set())
    asyncio.run(measure(url, end, args.rounds, parts))


if __name__ == "__main__":
    main()
