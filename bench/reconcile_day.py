"""«Сверка с АТС» of one day with 10,000 calls (issue 13): how long a reconciliation takes.

    .venv/bin/python bench/reconcile_day.py [--db sqlite|postgresql] [--calls 10000] [--rounds 3]

The PBX simulator runs as a process of its own (`python -m web simulate-pbx`) holding one day
(yesterday, UTC) of `--calls` synthetic calls: answered ones with a recording, missed, outbound.
Each round measures, on a fresh database:

- cold: the CRM knowing none of them — every call applied through the webhook path (the call,
  its client, the status message, the variables, a missed-call item);
- warm: the same day again, the CRM knowing all (what a day's re-read costs: reading and skipping);
- tick: a 5-minute tick in the steady state (the last 2 h 5 min of the day read, all known);
- ceiling: fetching and parsing the same day's history without applying it (`PbxClient.history`
  over the same six-hour parts), measured in the same session, so the numbers read as a ratio
  that survives a faster or slower machine;
- with `recordings.download_due` present (the «recordings» part of issue 13), the recordings
  of the cold round downloaded once, timed.

Medians over the rounds; the simulator's CPU (the load generator) is read from /proc for each
phase, so a saturated simulator is not taken for a slow CRM.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from common import free_port, fresh_database

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core import projects  # noqa: E402
from core.db import Database  # noqa: E402
from core.migrations import migrate  # noqa: E402
from core.tables import pbx_connections, pbx_sync  # noqa: E402
from core.telephony import connection, reconciliation  # noqa: E402
from core.telephony.pbx_client import PbxClient  # noqa: E402
from tests.support import builders  # noqa: E402

KEY = "bench-pbx-key"
TICKS = os.sysconf("SC_CLK_TCK")
SIMULATE = [sys.executable, "-m", "web", "simulate-pbx"]


def cpu_of(pid: int) -> float:
    """CPU seconds (user + system) the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


class Simulator:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [*SIMULATE, "--port", str(self.port), "--api-key", KEY],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(self.url + "/", timeout=1)
                return
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the simulator did not start") from None
                time.sleep(0.1)

    def cpu(self) -> float:
        return cpu_of(self.process.pid)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


async def timed(sim: Simulator, work: Callable[[], Awaitable[Any]]) -> tuple[Any, float, float]:
    """The result, the wall time, and the simulator's CPU over that time (share of a core)."""
    cpu, started = sim.cpu(), time.perf_counter()
    result = await work()
    wall = time.perf_counter() - started
    return result, wall, (sim.cpu() - cpu) / wall


async def project_with_pbx(db: Database, sim: Simulator) -> int:
    await migrate(db)
    admin = await builders.admin(db, email="anna@romashka.ru")
    project = int(admin["project_id"])
    await projects.generate_api_key(db, project)
    await connection.save(db, project, KEY, sim.url, allow_private=True)
    await db.execute(  # connected well before the day measured
        pbx_connections.update().values(connected_at=datetime.now(UTC) - timedelta(days=3))
    )
    return project


async def one_round(
    url: str, work: Path, sim: Simulator, day_end: datetime
) -> dict[str, tuple[float, float, int]]:
    found: dict[str, tuple[float, float, int]] = {}
    async with Database(url) as db, httpx.AsyncClient(timeout=30) as http:
        project = await project_with_pbx(db, sim)

        async def ceiling() -> int:
            pbx, read, since = PbxClient(http, sim.url, KEY), 0, day_end - timedelta(days=1)
            while since < day_end:
                until = min(since + reconciliation.CHUNK, day_end)
                read += len((await pbx.history(since, until)).calls)
                since = until
            return read

        read, wall, sim_cpu = await timed(sim, ceiling)
        found["ceiling"] = (wall, sim_cpu, read)

        async def reconcile() -> Any:
            return await reconciliation.reconcile(db, http, project, now=day_end)

        for phase in ("cold", "warm"):
            if phase == "warm":  # read the whole day again
                await db.execute(pbx_sync.update().values(synced_until=None))
            run, wall, sim_cpu = await timed(sim, reconcile)
            assert run is not None and run.result == "ok", run
            found[phase] = (wall, sim_cpu, run.calls_read)
            if phase == "cold":
                found["restored"] = (0.0, 0.0, run.calls_restored)
        await db.execute(pbx_sync.update().values(synced_until=day_end - timedelta(minutes=5)))
        run, wall, sim_cpu = await timed(sim, reconcile)
        assert run is not None and run.result == "ok" and run.calls_restored == 0, run
        found["tick"] = (wall, sim_cpu, run.calls_read)

        try:
            from core.telephony import recordings
        except ImportError:
            recordings = None  # type: ignore[assignment]
        if recordings is not None and hasattr(recordings, "download_due"):
            settings = recordings.Settings(
                directory=work / "recordings",
                max_bytes=50 * 1024 * 1024,
                timeout=30.0,
                poll=1.0,
                retry_base=60.0,
            )

            async def download_all() -> int:
                stored = 0
                while done := await recordings.download_due(db, http, settings, limit=1000):
                    stored += done
                return stored

            stored, wall, sim_cpu = await timed(sim, download_all)
            found["recordings"] = (wall, sim_cpu, stored)
    return found


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="reconcile-bench-"))
    sim = Simulator()
    try:
        today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        yesterday = today - timedelta(days=1)
        loaded = httpx.post(
            sim.url + "/simulator/history",
            data={"count": str(args.calls), "day": yesterday.strftime("%Y-%m-%d")},
            timeout=120,
        ).json()
        print(f"simulator: {loaded['loaded']} calls of {yesterday:%Y-%m-%d}; database {args.db}")
        rounds = []
        for number in range(args.rounds):
            (work / f"round{number}").mkdir(parents=True, exist_ok=True)
            url = fresh_database(args.db, work / f"round{number}", f"bench_reconcile_{number}")
            rounds.append(asyncio.run(one_round(url, work / f"round{number}", sim, today)))
    finally:
        sim.stop()
    ceiling = statistics.median(r["ceiling"][0] for r in rounds)
    print(f"{'phase':<11}{'wall, s':>9}{'calls':>8}{'calls/s':>10}{'× ceiling':>11}{'sim CPU':>9}")
    for phase in ("ceiling", "cold", "warm", "tick", "recordings"):
        if phase not in rounds[0]:
            continue
        wall = statistics.median(r[phase][0] for r in rounds)
        share = statistics.median(r[phase][1] for r in rounds)
        count = rounds[0][phase][2]
        ratio = f"{wall / ceiling:10.1f}×" if phase != "ceiling" else f"{'1.0×':>11}"
        print(
            f"{phase:<11}{wall:9.2f}{count:8d}{count / wall if wall else 0:10.0f}{ratio}"
            f"{share:9.0%}"
        )
    print(f"restored in the cold round: {rounds[0]['restored'][2]} of {rounds[0]['cold'][2]}")


if __name__ == "__main__":
    main()
