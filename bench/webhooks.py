"""Webhook throughput and latency against the real server (uvicorn) with wrk, 64 connections.

    .venv/bin/python bench/webhooks.py [--db sqlite|postgresql] [--seconds 15] [--runs 3]

A realistic mix per call, as the PBX sends it: contact, event INCOMING, ACCEPTED, COMPLETED and
history (one call in five unanswered: INCOMING, CANCELLED, history Missed), for numbers of which
half belong to existing clients, saturated and paced to `--rate`; during both, a probe asks
`contact` every 10 ms on one more connection and times each answer (wrk cannot time one command
of a mix). Then `contact` alone. Needs `wrk` (Debian).

Every saturated run is paired with the same wrk run against the ceiling (`bench/ceiling.py`: a
bare Starlette endpoint parsing the same form and checking the token), measured in the same
session, so the numbers read as a ratio that survives a machine twice as fast or slow. wrk's
own CPU use is reported (as a share of one core), so a saturated load generator is not taken
for a slow server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.client import HTTPConnection
from pathlib import Path
from urllib.parse import urlencode

import httpx
from common import free_port, fresh_database

from core import clients, projects
from core.db import Database
from core.migrations import migrate

ROOT = Path(__file__).resolve().parents[1]
LUA = """
local bodies = {}
local n = 0
local counter = 0
local offset, step = 0, 1
local pause = 0
function setup(thread)
  thread:set("id", thread_id)
  thread_id = (thread_id or 0) + 1
end
function init(args)
  for line in io.lines(args[1]) do n = n + 1; bodies[n] = line end
  offset = tonumber(id) or 0
  step = tonumber(args[2]) or 1
  counter = offset + (tonumber(args[3]) or 0)
  pause = tonumber(args[4]) or 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end
function delay()
  return pause
end
function request()
  counter = counter + step
  return wrk.format(nil, "/megafon_webhook", nil, bodies[(counter % n) + 1])
end
"""


def phone(i: int) -> str:
    return f"79{(i * 7919 + 12345) % 10**9:09d}"


def bodies(token: str, calls: int, known: int) -> tuple[list[str], list[str]]:
    rng = random.Random(5)
    mixed, contacts = [], []
    for i in range(calls):
        number = phone(rng.randrange(known)) if rng.random() < 0.5 else phone(known + i)
        base = {
            "callid": f"bench-{i}",
            "phone": number,
            "user": "ivanov",
            "ext": "701",
            "crm_token": token,
        }
        contact = urlencode(
            {"cmd": "contact", "phone": number, "callid": base["callid"], "crm_token": token}
        )
        contacts.append(contact)
        mixed.append(contact)
        if rng.random() < 0.2:
            steps = [("event", "INCOMING"), ("event", "CANCELLED"), ("history", "Missed")]
        else:
            steps = [
                ("event", "INCOMING"),
                ("event", "ACCEPTED"),
                ("event", "COMPLETED"),
                ("history", "Success"),
            ]
        for cmd, value in steps:
            fields = {**base, "cmd": cmd}
            if cmd == "event":
                fields.update(type=value, direction="in")
            else:
                fields.update(
                    type="in",
                    status=value,
                    start="20260101T100000Z",
                    duration="42" if value == "Success" else "0",
                )
            mixed.append(urlencode(fields))
    return mixed, contacts


async def prepare(url: str, known: int) -> str:
    async with Database(url) as db:
        await migrate(db)
        admin = await projects.create_project(db, "bench")
        token = await projects.generate_api_key(db, admin)
        for i in range(known):
            await clients.create_client(
                db, admin, clients.ClientInput(name=f"Клиент {i}", phone=phone(i))
            )
        return token


def wrk(
    url: str,
    script: Path,
    body_file: Path,
    seconds: int,
    connections: int,
    start: int,
    pause_ms: int = 0,
) -> dict:
    """One wrk run; `start` skips the bodies earlier runs sent, so nothing is a duplicate;
    `pause_ms` makes each connection wait between requests (a paced, not saturated, load)."""
    cpu_before = _children_cpu()
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(script),
            url,
            "--",
            str(body_file),
            "2",
            str(start),
            str(pause_ms),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    def ms(label: str) -> float:
        value, unit = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", out).groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    wrk_cpu = (_children_cpu() - cpu_before) / seconds  # cores wrk kept busy
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": ms("50"),
        "p99": ms("99"),
        "errors": int(errors.group(1)) if errors else 0,
        "socket_errors": socket_errors.group(1) if socket_errors else "",
        "wrk_cpu": wrk_cpu,
    }


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def start_server(command: list[str], env: dict[str, str], log: Path, port: int) -> subprocess.Popen:
    server = subprocess.Popen(
        command,
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),  # a pipe nobody reads would stall the server
    )
    for _ in range(100):
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.1)
    return server


class ContactProbe(threading.Thread):
    """The PBX's view of `contact` while the mix runs: one more connection asking
    "who is calling?" every 10 ms and timing each answer (wrk cannot time per command)."""

    def __init__(self, port: int, bodies: list[str]) -> None:
        super().__init__(daemon=True)
        self.port, self.bodies = port, bodies
        self.latencies: list[float] = []
        self.failures = 0
        self.stop = threading.Event()

    def run(self) -> None:
        conn = HTTPConnection("127.0.0.1", self.port, timeout=10)
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        self.started = time.perf_counter()
        for body in self.bodies:
            if self.stop.wait(0.01):
                break
            started = time.perf_counter()
            conn.request("POST", "/megafon_webhook", body, headers)
            response = conn.getresponse()
            response.read()
            self.latencies.append((time.perf_counter() - started) * 1000)
            self.failures += response.status != 200
        self.elapsed = time.perf_counter() - self.started
        conn.close()

    def result(self) -> dict:
        ordered = sorted(self.latencies)
        return {
            "rps": len(ordered) / self.elapsed,
            "p50": statistics.median(ordered),
            "p99": ordered[int(len(ordered) * 0.99)],
            "errors": self.failures,
            "socket_errors": "",
            "wrk_cpu": 0.0,
        }


def with_probe(port: int, bodies: list[str], run: callable) -> tuple[dict, dict]:
    probe = ContactProbe(port, bodies)
    probe.start()
    try:
        result = run()
    finally:
        probe.stop.set()
        probe.join(30)
    return result, probe.result()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--known-clients", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--rate",
        type=int,
        default=2000,
        help="also run the mix paced to about this many webhooks/s (0: skip)",
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")
    work = Path(tempfile.mkdtemp(prefix="bench-webhooks-"))
    url = fresh_database(args.db, work, "crm_bench")
    token = asyncio.run(prepare(url, args.known_clients))
    mixed, contacts = bodies(token, 80_000, args.known_clients)
    (work / "mixed.txt").write_text("\n".join(mixed))
    (work / "contacts.txt").write_text("\n".join(contacts))
    probe_bodies = contacts[-20_000:]  # numbers wrk's runs do not reach
    (work / "bench.lua").write_text(LUA)
    port, ceiling_port = free_port(), free_port()
    server = start_server(
        [sys.executable, "-m", "web", "serve", "--port", str(port), "--workers", str(args.workers)],
        {"DATABASE_URL": url, "SECRET_KEY": "bench"},
        work / "server.log",
        port,
    )
    ceiling = start_server(
        [
            *(sys.executable, "-m", "uvicorn", "ceiling:app", "--app-dir", str(ROOT / "bench")),
            *("--port", str(ceiling_port), "--workers", str(args.workers)),
            *("--loop", "asyncio", "--no-access-log", "--log-level", "warning"),
        ],
        {"CEILING_TOKEN": token},
        work / "ceiling.log",
        ceiling_port,
    )
    target = f"http://127.0.0.1:{port}"
    ceiling_target = f"http://127.0.0.1:{ceiling_port}"
    try:
        results: dict[str, list[dict]] = {
            "mixed": [],
            "ceiling: mixed": [],
            "contact in mix": [],
            "contact": [],
            "ceiling: contact": [],
        }
        if args.rate:
            results[f"mix@{args.rate}/s"] = []
            results[f"contact in mix@{args.rate}/s"] = []
        # each connection waits this long after each answer: 64 connections, about --rate/s
        pause = max(0, round(1000 * args.connections / args.rate) - 7) if args.rate else 0
        lua = work / "bench.lua"
        for run in range(args.runs):
            mixed_run, probed = with_probe(
                port,
                probe_bodies[run * 5_000 : (run + 1) * 5_000],
                lambda run=run: wrk(
                    target, lua, work / "mixed.txt", args.seconds, args.connections, run * 100_000
                ),
            )
            results["mixed"].append(mixed_run)
            results["contact in mix"].append(probed)
            results["ceiling: mixed"].append(
                wrk(
                    ceiling_target,
                    lua,
                    work / "mixed.txt",
                    args.seconds,
                    args.connections,
                    run * 100_000,
                )
            )
            results["ceiling: contact"].append(
                wrk(
                    ceiling_target,
                    lua,
                    work / "contacts.txt",
                    max(5, args.seconds // 3),
                    args.connections,
                    run * 20_000,
                )
            )
            results["contact"].append(
                wrk(
                    target,
                    lua,
                    work / "contacts.txt",
                    max(5, args.seconds // 3),
                    args.connections,
                    run * 20_000,
                )
            )
            if args.rate:
                paced, probed = with_probe(
                    port,
                    probe_bodies[15_000 + run * 1_500 : 15_000 + (run + 1) * 1_500],
                    lambda run=run: wrk(
                        target,
                        lua,
                        work / "mixed.txt",
                        args.seconds,
                        args.connections,
                        run * 100_000 + 50_000,
                        pause,
                    ),
                )
                results[f"mix@{args.rate}/s"].append(paced)
                results[f"contact in mix@{args.rate}/s"].append(probed)
    finally:
        for process in (server, ceiling):
            process.send_signal(signal.SIGINT)
            process.wait(30)
    print(
        f"{args.db}, {args.connections} connections, {args.runs} runs of {args.seconds} s, "
        f"{args.known_clients} known clients, {args.workers} worker(s)"
    )
    for name, runs in results.items():

        def med(key: str, runs: list[dict] = runs) -> float:
            return statistics.median(r[key] for r in runs)

        print(
            f"{name:<26} {med('rps'):6.0f} req/s   p50 {med('p50'):6.1f} ms   "
            f"p99 {med('p99'):6.1f} ms   non-2xx {sum(r['errors'] for r in runs)}   "
            f"wrk CPU {med('wrk_cpu'):4.2f} cores   "
            f"runs: {json.dumps([round(r['rps']) for r in runs])}"
        )
        socket_errors = [r["socket_errors"] for r in runs if r["socket_errors"]]
        if socket_errors:
            print("  socket errors:", socket_errors)
    for name, ceiling_name in (("mixed", "ceiling: mixed"), ("contact", "ceiling: contact")):
        ratios = [
            ours["rps"] / bare["rps"]
            for ours, bare in zip(results[name], results[ceiling_name], strict=True)
        ]
        print(
            f"{name} / ceiling: {statistics.median(ratios):.3f} of the bare endpoint's "
            f"throughput (runs: {json.dumps([round(r, 3) for r in ratios])})"
        )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
