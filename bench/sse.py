"""Live streams under load: 1,000 open client cards while the PBX posts 200 webhooks a second.

    .venv/bin/python bench/sse.py [--streams 1000] [--rate 200] [--seconds 20] [--runs 3]
                                  [--db sqlite|postgresql] [--redis]

The app runs as `python -m web serve` in its own process. One employee opens `--streams` live
streams (`/events?client=<id>`), each on a different client's card, as that many browser tabs
would. Then calls arrive, one client after another, paced to `--rate` webhooks a second: each call
is INCOMING, ACCEPTED, COMPLETED and its history, half a second apart; the last three each write
a message into the client's dialog. For every such message the benchmark times the moment the
webhook was sent to the moment its `message` event arrived on that client's stream (the
webhook-to-receipt latency), and checks that each arrives exactly once.

Memory: the server's resident memory (VmRSS) with no stream open, and with all of them open and
idle; the difference divided by the number of streams is the memory per open stream.

So that a number means the same on a machine twice as fast or slow, each run also measures the
server's webhook throughput with every stream still open (the PBX process sends as fast as the
server answers, for `--burst` seconds) and reports the paced load as a fraction of it; and it
reports the CPU the benchmark's own processes used (stream reader and PBX), in cores, so that a
saturated client is not taken for a slow server.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import re
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlencode

import httpx
from common import free_port, fresh_database

from core import clients, employees, projects
from core.db import Database
from core.migrations import migrate
from core.passwords import Passwords

ROOT = Path(__file__).resolve().parents[1]
EMAIL, PASSWORD = "bench@example.ru", "bench-password"
STEPS = ("INCOMING", "ACCEPTED", "COMPLETED", "history")  # half a second apart
WITH_MESSAGE = {"ACCEPTED", "COMPLETED", "history"}


def phone(i: int) -> str:
    return f"79{(i * 7919 + 12345) % 10**9:09d}"


async def prepare(url: str, streams: int) -> tuple[str, list[int]]:
    async with Database(url) as db:
        await migrate(db)
        admin = await employees.create_admin(
            db, Passwords(), "bench", employees.EmployeeInput("Bench", EMAIL, password=PASSWORD)
        )
        project = admin["project_id"]
        # The PBX rings this employee, who has no page open: popups cost a row, no stream.
        await employees.create_employee(
            db,
            Passwords(cheap=True),
            project,
            employees.EmployeeInput(
                "Оператор",
                "operator@example.ru",
                password=PASSWORD,
                call_method=employees.CallMethod.MEGAFON,
                pbx_user="operator",
            ),
        )
        key = await projects.generate_api_key(db, project)
        ids = [
            await clients.create_client(
                db, project, clients.ClientInput(name=f"Клиент {i}", phone=phone(i))
            )
            for i in range(streams)
        ]
        return key, ids


def rss_kb(pid: int) -> int:
    """The server's resident memory: its worker processes' with `--workers`."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    pids = [int(c) for c in children] or [pid]
    total = 0
    for one in pids:
        status = Path(f"/proc/{one}/status").read_text()
        total += int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1))
    return total


class Streams:
    """Many SSE streams on raw sockets (a browser tab's worth of work each, no more)."""

    def __init__(self, port: int, cookie: str) -> None:
        self.port, self.cookie = port, cookie
        self.connected = 0
        self.received: dict[int, list[float]] = defaultdict(list)  # stream → receipt times
        self.writers: list[asyncio.StreamWriter] = []
        self.tasks: list[asyncio.Task[None]] = []

    async def open(self, index: int, client_id: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port, limit=1 << 20)
        self.writers.append(writer)
        writer.write(
            (
                f"GET /events?client={client_id} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Accept: text/event-stream\r\nCookie: {self.cookie}\r\n\r\n"
            ).encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        if b" 200 " not in head.split(b"\r\n", 1)[0]:
            raise RuntimeError(f"stream {index}: {head[:200]!r}")
        self.tasks.append(asyncio.create_task(self._read(index, reader)))

    async def _read(self, index: int, reader: asyncio.StreamReader) -> None:
        buffer = b""
        while True:
            size = int((await reader.readline()).strip() or b"0", 16)
            if size == 0:
                return
            buffer += (await reader.readexactly(size + 2))[:-2]
            while b"\r\n\r\n" in buffer:
                block, buffer = buffer.split(b"\r\n\r\n", 1)
                if block.startswith(b": connected"):
                    self.connected += 1
                elif b"event: message\r\n" in block:
                    self.received[index].append(time.perf_counter())

    def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        for writer in self.writers:
            writer.close()


SPAWN = multiprocessing.get_context("spawn")  # a clean process: no inherited stream sockets


class Pbx(SPAWN.Process):  # type: ignore[name-defined]
    """The PBX, in a process of its own (the streams' reader keeps this one busy): calls one
    client after another, `rate` webhooks a second, each sent at its scheduled time over one
    of 32 keep-alive connections (open loop: a slow answer never slows the schedule down).
    `result()` gives the send times per stream (CLOCK_MONOTONIC, shared by processes)."""

    def __init__(self, port: int, key: str, streams: int, rate: int, seconds: float, first: int):
        super().__init__(daemon=True)
        self.port, self.key, self.streams, self.rate, self.seconds = (
            port,
            key,
            streams,
            rate,
            seconds,
        )
        self.first = first  # the first call's number, so runs never repeat a callid
        # rate 0: a closed loop, each connection sending again as soon as it has its answer
        self.results = SPAWN.Queue()

    def run(self) -> None:
        self.results.put(asyncio.run(self._run()))

    def result(self) -> dict:
        return self.results.get(timeout=self.seconds + 120)

    def _request(self, call: int, stream: int, step: str) -> bytes:
        fields = {
            "callid": f"bench-{call}",
            "phone": phone(stream),
            "user": "operator",
            "crm_token": self.key,
        }
        if step == "history":
            fields.update(cmd="history", type="in", status="Success", duration="42")
        else:
            fields.update(cmd="event", type=step, direction="in")
        body = urlencode(fields).encode()
        return (
            b"POST /megafon_webhook HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        )

    async def _run(self) -> dict:
        if self.rate == 0:
            return await self._saturate()
        queue: asyncio.Queue = asyncio.Queue()
        sent: dict[int, list[float]] = defaultdict(list)
        answers: list[float] = []
        failures = [0]

        async def connection() -> None:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
            while True:
                item = await queue.get()
                if item is None:
                    writer.close()
                    return
                stream, step, request = item
                started = time.perf_counter()
                if step in WITH_MESSAGE:
                    sent[stream].append(started)
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(re.search(rb"content-length: (\d+)", head, re.I).group(1))
                await reader.readexactly(length)
                answers.append((time.perf_counter() - started) * 1000)
                failures[0] += b" 200 " not in head.split(b"\r\n", 1)[0]

        workers = [asyncio.create_task(connection()) for _ in range(32)]
        schedule = []
        calls_per_second = self.rate / len(STEPS)
        for n in range(int(self.seconds * calls_per_second)):
            call = self.first + n
            for index, step in enumerate(STEPS):
                at = n / calls_per_second + index * 0.5
                schedule.append(
                    (at, call % self.streams, step, self._request(call, call % self.streams, step))
                )
        schedule.sort(key=lambda item: item[0])
        start = time.perf_counter() + 0.2
        for at, stream, step, request in schedule:
            await asyncio.sleep(max(0, start + at - time.perf_counter()))
            queue.put_nowait((stream, step, request))
        for _ in workers:
            queue.put_nowait(None)
        await asyncio.gather(*workers)
        return {"sent": dict(sent), "answers": answers, "failures": failures[0]}

    async def _saturate(self) -> dict:
        """As many webhooks as the server answers: the throughput ceiling of this run."""
        steps = ((call, step) for call in range(self.first, self.first + 10**7) for step in STEPS)
        answers = [0]
        deadline = time.perf_counter() + self.seconds

        async def connection() -> None:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
            for call, step in steps:
                if time.perf_counter() >= deadline:
                    break
                writer.write(self._request(call, call % self.streams, step))
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(re.search(rb"content-length: (\d+)", head, re.I).group(1))
                await reader.readexactly(length)
                answers[0] += 1
            writer.close()

        await asyncio.gather(*(connection() for _ in range(32)))
        return {"sent": {}, "answers": [0.0] * answers[0], "failures": 0}


def cpu_seconds() -> float:
    """CPU used by this process and its finished children (the PBX processes)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


async def bench(args: argparse.Namespace, port: int, pid: int, key: str, ids: list[int]) -> dict:
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as browser:
        browser.get("/login")
        token = browser.cookies["csrftoken"]
        browser.post("/login", data={"email": EMAIL, "password": PASSWORD, "csrftoken": token})
        cookie = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
    streams = Streams(port, cookie)
    await asyncio.sleep(1)
    idle = rss_kb(pid)
    for start in range(0, len(ids), 100):  # as tabs open: not all in the same millisecond
        await asyncio.gather(
            *(streams.open(i, ids[i]) for i in range(start, min(start + 100, len(ids))))
        )
    while streams.connected < len(ids):
        await asyncio.sleep(0.05)
    await asyncio.sleep(2)
    open_rss = rss_kb(pid)
    runs = []
    for run in range(args.runs):
        before = {i: len(times) for i, times in streams.received.items()}
        cpu, wall = cpu_seconds(), time.perf_counter()
        sent_by_pbx = await pbx_run(port, key, len(ids), args.rate, args.seconds, run * 1_000_000)
        await asyncio.sleep(2)  # the last messages arrive
        client_cores = (cpu_seconds() - cpu) / (time.perf_counter() - wall)
        latencies, lost, extra = [], 0, 0
        for stream, sent in sent_by_pbx["sent"].items():
            got = streams.received.get(stream, [])[before.get(stream, 0) :]
            lost += max(0, len(sent) - len(got))
            extra += max(0, len(got) - len(sent))
            latencies += [(r - s) * 1000 for s, r in zip(sent, got, strict=False)]
        answers = sent_by_pbx["answers"]
        await asyncio.sleep(1)
        burst = await pbx_run(port, key, len(ids), 0, args.burst, run * 1_000_000 + 500_000)
        ceiling = len(burst["answers"]) / args.burst
        await asyncio.sleep(3)  # the burst's messages drain before the next run
        runs.append(
            {
                "webhooks/s": len(answers) / args.seconds,
                "messages": len(latencies),
                "p50": statistics.median(latencies),
                "p99": percentile(latencies, 0.99),
                "max": max(latencies),
                "answer p99": percentile(answers, 0.99),
                "lost": lost,
                "duplicates": extra,
                "failures": sent_by_pbx["failures"],
                "ceiling/s": ceiling,
                "load/ceiling": len(answers) / args.seconds / ceiling,
                "client cores": client_cores,
            }
        )
        print(f"run {run + 1}: " + ", ".join(f"{k} {v:.1f}" for k, v in runs[-1].items()))
    loaded_rss = rss_kb(pid)
    streams.close()
    return {
        "runs": runs,
        "idle_kb": idle,
        "open_kb": open_rss,
        "loaded_kb": loaded_rss,
        "per_stream_kb": (open_rss - idle) / len(ids),
    }


async def pbx_run(port: int, key: str, streams: int, rate: int, seconds: float, first: int) -> dict:
    """One PBX process's run; the streams keep reading meanwhile."""
    pbx = Pbx(port, key, streams, rate, seconds, first=first)
    pbx.start()
    result = await asyncio.get_running_loop().run_in_executor(None, pbx.result)
    pbx.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--rate", type=int, default=200, help="webhooks a second")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--burst", type=float, default=5, help="seconds of the saturating run after each run"
    )
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--redis", action="store_true", help="carry wake-ups through Redis")
    parser.add_argument("--workers", type=int, default=1, help="server processes")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-sse-"))
    url = fresh_database(args.db, work, "crm_bench_sse")
    key, ids = asyncio.run(prepare(url, args.streams))
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "bench"}
    if args.redis:
        env["REDIS_URL"] = "redis://127.0.0.1:6379/0"
    server = subprocess.Popen(
        [sys.executable, "-m", "web", "serve", "--port", str(port), "--workers", str(args.workers)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(work / "server.log").open("w"),  # a pipe nobody reads would stall the server
    )
    try:
        for _ in range(100):
            try:
                httpx.get(f"http://127.0.0.1:{port}/login", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        result = asyncio.run(bench(args, port, server.pid, key, ids))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)

    runs = result["runs"]

    def med(name: str) -> float:
        return statistics.median(r[name] for r in runs)

    print(
        f"\n{args.db}{' + redis' if args.redis else ''}, {args.workers} worker(s): "
        f"{args.streams} open streams, "
        f"{args.rate} webhooks/s, {args.runs} runs of {args.seconds:.0f} s (medians)"
    )
    print(
        f"webhook → stream: p50 {med('p50'):.1f} ms, p99 {med('p99'):.1f} ms, "
        f"max {med('max'):.1f} ms over {med('messages'):.0f} messages a run; "
        f"lost {sum(r['lost'] for r in runs)}, duplicates {sum(r['duplicates'] for r in runs)}, "
        f"failed webhooks {sum(r['failures'] for r in runs)}"
    )
    print(f"webhook answers: p99 {med('answer p99'):.1f} ms at {med('webhooks/s'):.0f}/s")
    print(
        f"load: {med('webhooks/s'):.0f}/s is {med('load/ceiling'):.3f} of the "
        f"{med('ceiling/s'):.0f} webhooks/s the server answered flat out with the streams open; "
        f"the benchmark's own processes used {med('client cores'):.2f} cores while it ran"
    )
    print(
        f"server memory: {result['idle_kb'] / 1024:.1f} MB with no stream, "
        f"{result['open_kb'] / 1024:.1f} MB with {args.streams} open, "
        f"{result['loaded_kb'] / 1024:.1f} MB after the load: "
        f"{result['per_stream_kb']:.1f} KB per open stream"
    )


if __name__ == "__main__":
    main()
