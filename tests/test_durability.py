"""Killing the server mid-load loses no webhook that got a 200 (a real server, a real kill)."""

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time

import httpx
import sqlalchemy as sa

from core import projects
from core.db import Database
from core.migrations import migrate
from core.tables import calls, webhook_deliveries
from tests.support.servers import free_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


async def make_project(url):
    async with Database(url) as db:
        await migrate(db)
        project_id = await projects.create_project(db, "Ромашка")
        return project_id, await projects.generate_api_key(db, project_id)


async def stored(url, project_id):
    async with Database(url) as db:
        deliveries = await db.fetch_all(
            sa.select(webhook_deliveries.c.callid, webhook_deliveries.c.result).where(
                webhook_deliveries.c.project_id == project_id
            )
        )
        finished = await db.fetch_all(
            sa.select(calls.c.callid).where(calls.c.project_id == project_id, calls.c.status != "")
        )
    return {d["callid"]: d["result"] for d in deliveries}, {c["callid"] for c in finished}


def test_every_acknowledged_webhook_survives_a_kill_9(database_url):
    project_id, key = asyncio.run(make_project(database_url))
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "web", "serve", "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "k"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/megafon_webhook"
    acknowledged, lock, stop = [], threading.Lock(), threading.Event()

    def sender(worker):
        with httpx.Client(timeout=5) as client:
            for i in range(400):  # bounded: at most 16 × 400 requests, to 127.0.0.1 only
                if stop.is_set():
                    return
                callid = f"w{worker}-{i}"
                fields = {
                    "cmd": "history",
                    "type": "in",
                    "status": "Success",
                    "callid": callid,
                    "phone": f"7916{worker:03d}{i:04d}",
                    "user": "ivanov",
                    "start": "20260101T100000Z",
                    "duration": "42",
                    "crm_token": key,
                }
                try:
                    response = client.post(url, data=fields)
                except httpx.TransportError:
                    if stop.is_set():
                        return
                    time.sleep(0.05)  # not up yet
                    continue
                if response.status_code == 200:
                    with lock:
                        acknowledged.append(callid)

    threads = [threading.Thread(target=sender, args=(w,)) for w in range(16)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while len(acknowledged) < 300 and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(server.pid, signal.SIGKILL)  # mid-load, no chance to flush anything
    server.wait(10)
    stop.set()
    for thread in threads:
        thread.join(10)
    assert len(acknowledged) >= 300, "the server never got going"

    deliveries, finished = asyncio.run(stored(database_url, project_id))
    lost = [c for c in acknowledged if deliveries.get(c) != "ok" or c not in finished]
    assert lost == []
