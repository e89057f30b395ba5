"""The embedded database, its WAL and shared-memory files and `data/` are the owner's only
(issue 11, item 11): created so, and narrowed on start when an older install left them open."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import httpx

from tests.support.servers import ROOT, AppProcess


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_running_server_keeps_its_database_files_to_its_owner(tmp_path):
    database = tmp_path / "data" / "crm.sqlite3"
    with AppProcess(f"sqlite:///{database}") as app:
        assert httpx.get(app.url + "/login").status_code in (200, 303)
        files = {p.name: mode(p) for p in database.parent.iterdir()}
    assert mode(database.parent) == 0o700
    assert files == {
        "crm.sqlite3": 0o600,
        "crm.sqlite3-wal": 0o600,
        "crm.sqlite3-shm": 0o600,
    }


def test_files_an_older_install_left_readable_by_all_are_narrowed_on_start(tmp_path):
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    for name in ("crm.sqlite3", "secret_key"):
        (data / name).touch()
        (data / name).chmod(0o644)
    (data / "secret_key").write_text("kept-from-before")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SECRET_KEY")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "web",
            "create-admin",
            "--project",
            "Ромашка",
            "--email",
            "anna@romashka.ru",
            "--password",
            "kitchen-window-42",
        ],
        cwd=tmp_path,  # the default database, data/crm.sqlite3, is there
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert mode(data) == 0o700
    assert mode(data / "crm.sqlite3") == 0o600
    assert (data / "secret_key").read_text() == "kept-from-before"
