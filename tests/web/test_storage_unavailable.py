"""A full disk or a read-only database is an error, not a hang: `503` with `Retry-After` at
once, nothing acknowledged lost, service back by itself when space returns; the server does
not start on a read-only database and says why in one line.

The disk fills for real: the app's process gets a file-size limit (`RLIMIT_FSIZE`, set from
outside with `prlimit`) below what its database needs, so every write fails as on a full disk,
and the limit is lifted again."""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from core import projects
from core.db import Database
from core.errors import StorageUnavailable
from core.migrations import migrate
from core.tables import webhook_deliveries
from tests.support import builders
from tests.support.databases import run_core
from tests.support.pages import text_of
from tests.support.servers import ROOT, AppProcess, LiveBrowser, free_port

pytestmark = pytest.mark.skipif(not hasattr(resource, "prlimit"), reason="Linux only")


def history(key: str, callid: str) -> dict[str, str]:
    return {
        "crm_token": key,
        "cmd": "history",
        "type": "in",
        "callid": callid,
        "phone": "79161234567",
        "user": "ivanov",
        "status": "Success",
        "start": "20240315T091512Z",
        "duration": "5",
    }


@contextlib.contextmanager
def disk_full(pid: int) -> Iterator[None]:
    """No file of process `pid` may grow: its writes fail as on a full disk, until the end."""
    limits = resource.prlimit(pid, resource.RLIMIT_FSIZE)
    resource.prlimit(pid, resource.RLIMIT_FSIZE, (1, limits[1]))
    try:
        yield
    finally:
        resource.prlimit(pid, resource.RLIMIT_FSIZE, limits)


def test_a_full_disk_is_503_with_retry_after_at_once_and_nothing_acknowledged_is_lost(tmp_path):
    url = f"sqlite:///{tmp_path}/crm.sqlite3"
    with (
        AppProcess(url) as app,
        LiveBrowser(base_url=app.url, timeout=10, follow_redirects=True) as person,
    ):
        admin = run_core(url, builders.admin)
        key = run_core(url, projects.generate_api_key, admin["project_id"])
        client = run_core(url, builders.client, admin["project_id"])
        person.login(admin["email"])
        assert app.process is not None
        answers: dict[str, httpx.Response] = {}

        def send(callid: str) -> None:
            started = time.monotonic()
            answers[callid] = httpx.post(
                f"{app.url}/megafon_webhook", data=history(key, callid), timeout=10
            )
            assert time.monotonic() - started < 5, "answered within seconds, not left hanging"

        for i in range(3):
            send(f"before-{i}")
        with disk_full(app.process.pid), ThreadPoolExecutor(8) as pool:
            list(pool.map(send, [f"full-{i}" for i in range(16)]))  # in groups of commits
            note = person.submit(f"/clients/{client['id']}/notes", {"text": "Перезвонить"})
        time.sleep(1.5)  # the WAL checkpoint, which failed meanwhile, runs again
        for i in range(3):
            send(f"after-{i}")
        app.stop()

    during = [answers[f"full-{i}"] for i in range(16)]
    assert {r.status_code for r in during} == {503}
    assert all(int(r.headers["Retry-After"]) > 0 for r in during)
    assert "не может сохранить изменения" in during[0].json()["error"]
    assert note.status_code == 503 and "Сервис временно недоступен" in text_of(note)
    acknowledged = {callid for callid, r in answers.items() if r.status_code == 200}
    assert acknowledged == {f"before-{i}" for i in range(3)} | {f"after-{i}" for i in range(3)}
    stored = run_core(url, lambda db: db.fetch_all(sa.select(webhook_deliveries.c.callid)))
    assert {row["callid"] for row in stored} == acknowledged


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """`path` read-only even for root (who ignores file modes): immutable, where chattr works."""
    if os.geteuid() != 0:
        path.chmod(0o444)
        yield
        return
    if not shutil.which("chattr") or subprocess.run(["chattr", "+i", str(path)]).returncode:
        pytest.skip("running as root, and this file system cannot make a file immutable")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def test_the_server_does_not_start_on_a_read_only_database_and_says_why_in_one_line(tmp_path):
    url = f"sqlite:///{tmp_path}/crm.sqlite3"
    run_core(url, migrate)
    with read_only(tmp_path / "crm.sqlite3"):
        ended = subprocess.run(
            [sys.executable, "-m", "web", "serve", "--port", str(free_port())],
            cwd=ROOT,
            env={**os.environ, "DATABASE_URL": url, "SECRET_KEY": "x"},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert ended.returncode != 0
    output = (ended.stdout + ended.stderr).strip()
    assert output == (
        f"Не удаётся писать в базу данных {tmp_path}/crm.sqlite3: "
        "файл базы данных только для чтения."
    )


@pytest.mark.anyio
async def test_a_read_only_database_is_storage_unavailable_when_opened(tmp_path):
    url = f"sqlite:///{tmp_path}/crm.sqlite3"
    async with Database(url) as db:
        await migrate(db)
    with read_only(tmp_path / "crm.sqlite3"), pytest.raises(StorageUnavailable) as raised:
        async with Database(url):
            pass
    assert raised.value.reason == "файл базы данных только для чтения"
