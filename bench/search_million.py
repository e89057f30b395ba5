"""Client search at a million clients: fills a SQLite file and times the searches people make.

    .venv/bin/python bench/search_million.py [--clients 1000000] [--url sqlite:///data/bench.sqlite3]

Rows are bulk-loaded with sqlite3 and the same `search.terms_for` the app uses; the timed part goes
through `core.clients.find_clients`, the function behind the client list and its search box.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import statistics
import time

import sqlalchemy as sa

from core import clients, search
from core.db import Database
from core.migrations import migrate
from core.tables import search_terms
from core.telephony import caller_lookup

NAMES = ["Иван", "Мария", "Алексей", "Ольга", "Дмитрий", "Анна", "Сергей", "Елена", "Павел"]
SURNAMES = [
    "Смирнов",
    "Кузнецов",
    "Попов",
    "Васильев",
    "Соколов",
    "Морозов",
    "Волков",
    "Лебедев",
    "Новиков",
    "Фёдоров",
    "Михайлов",
    "Беляев",
    "Тарасов",
    "Белов",
    "Комаров",
    "Орлов",
]
CITIES = ["Москва", "Казань", "Самара", "Пермь", "Уфа", "Омск", "Тверь"]


def phone(i: int) -> str:
    return f"79{(i * 7919) % 10**9:09d}"


def eight_format(digits: str) -> str:
    """79161234567 as people write it: 8 (916) 123-45-67."""
    return f"8 ({digits[1:4]}) {digits[4:7]}-{digits[7:9]}-{digits[9:]}"


def fill_sqlite(path: str, count: int, variables_each: int, batch: int = 20_000) -> int:
    """Bulk-load with sqlite3 directly: loading is setup, only searching is measured."""
    conn = sqlite3.connect(path)
    if conn.execute("SELECT COUNT(*) FROM clients").fetchone()[0] >= count:
        return conn.execute("SELECT id FROM projects LIMIT 1").fetchone()[0]
    now = "2026-01-01 00:00:00.000000"
    project_id = conn.execute(
        "INSERT INTO projects (name, messengers, created_at) VALUES ('bench', '', ?)", (now,)
    ).lastrowid
    rng = random.Random(1)
    started = time.perf_counter()
    for start in range(0, count, batch):
        client_rows, variable_rows, term_rows = [], [], []
        for i in range(start + 1, min(start + batch, count) + 1):
            name = f"{rng.choice(NAMES)} {rng.choice(SURNAMES)}"
            values = {
                f"var{k}": f"{rng.choice(CITIES)} {rng.randint(1, 10**6)}"
                for k in range(variables_each - 1)
            }
            other = phone(i + count)
            values["work_phone"] = eight_format(other)
            client_rows.append((i, project_id, name, "telephony", phone(i), now))
            variable_rows += [(i, k, v, now) for k, v in values.items()]
            term_rows += [
                (project_id, t, i, kind)
                for t, kind in search.terms_for(name, phone(i), values.values())
            ]
        conn.executemany(
            "INSERT INTO clients (id, project_id, name, client_type, phone, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?)",
            client_rows,
        )
        conn.executemany("INSERT INTO client_variables VALUES (?, ?, ?, ?)", variable_rows)
        conn.executemany(
            "INSERT INTO search_terms (project_id, term, client_id, kind) VALUES (?, ?, ?, ?)",
            term_rows,
        )
        conn.commit()
        if (start // batch) % 10 == 0:
            print(
                f"  {start + batch:>9} clients loaded, {time.perf_counter() - started:.0f} s",
                flush=True,
            )
    conn.execute("ANALYZE")
    conn.commit()
    conn.close()
    return project_id


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=1_000_000)
    parser.add_argument("--variables", type=int, default=10)
    parser.add_argument("--url", default="sqlite:///data/bench-search.sqlite3")
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    async with Database(args.url) as db:
        await migrate(db)
    project_id = fill_sqlite(args.url.split("sqlite:///", 1)[1], args.clients, args.variables)
    async with Database(args.url) as db:
        terms = await db.fetch_val(sa.select(sa.func.count()).select_from(search_terms))
        print(f"{args.clients} clients, {terms} search terms, {db.dialect}")
        queries = {
            "list, first page": "",
            "phone, +7 format": "+" + phone(args.clients // 2),
            "phone, 8 (…) format": eight_format(phone(77)),
            "phone inside a variable": phone(args.clients + 5),
            "surname prefix": "тарас",
            "first and last name": "мария смир",
            "variable value": "казань 5",
            "nothing found": "zzzz",
        }
        lookups = {
            "contact: the client's phone": phone(args.clients // 3),
            "contact: phone in a variable": phone(args.clients + 17),
            "contact: unknown number": "79990000000",
        }
        for label, number in lookups.items():
            times = []
            for _ in range(args.rounds):
                t = time.perf_counter()
                answer = await caller_lookup.who_is_calling(db, project_id, number)
                times.append((time.perf_counter() - t) * 1000)
            times.sort()
            print(
                f"{label:<30} median {statistics.median(times):6.2f} ms   "
                f"p95 {times[int(len(times) * 0.95) - 1]:6.2f} ms   {answer}"
            )
        for label, query in queries.items():
            times, found = [], 0
            for _ in range(args.rounds):
                t = time.perf_counter()
                page = await clients.find_clients(db, project_id, query)
                times.append((time.perf_counter() - t) * 1000)
                found = len(page.clients)
            times.sort()
            print(
                f"{label:<26} median {statistics.median(times):6.2f} ms   "
                f"p95 {times[int(len(times) * 0.95) - 1]:6.2f} ms   rows {found}"
            )


if __name__ == "__main__":
    asyncio.run(main())
