"""The queue of recordings to keep: a link noted once, a changed link starting over, hosts that
share the database each downloading a different recording (real HTTP to our simulator)."""

from __future__ import annotations

import asyncio
import contextlib
import os
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from core import clock
from core.db import Database
from core.errors import ValidationError
from core.tables import calls as calls_table
from core.tables import recordings as recordings_table
from core.telephony import calls, recordings
from tests.support import builders
from tests.support.pbx import SimulatedPbx

pytestmark = pytest.mark.anyio


async def test_a_link_is_noted_once_and_a_changed_link_starts_over(db: Database) -> None:
    project = (await builders.admin(db))["project_id"]
    now = clock.now()
    call = await calls.ensure_call(db, project, "c-1", now)
    await recordings.note(db, project, call["id"], "https://pbx.example/a.mp3", now)
    await db.execute(recordings_table.update().values(state="failed", attempts=6, last_error="нет"))
    await recordings.note(db, project, call["id"], "https://pbx.example/a.mp3", now)
    same = await recordings.get(db, project, call["id"])
    assert same is not None and same["state"] == "failed"  # the same link: nothing to redo
    await recordings.note(db, project, call["id"], "https://pbx.example/b.mp3", now)
    fresh = await recordings.get(db, project, call["id"])
    assert fresh is not None
    assert (fresh["state"], fresh["attempts"], fresh["last_error"]) == ("pending", 0, "")
    assert fresh["source_url"] == "https://pbx.example/b.mp3"
    assert await recordings.get(db, project + 1, call["id"]) is None  # another project's
    usage = await recordings.space_used(db, project)
    assert (usage.files, usage.bytes, usage.waiting, usage.failed) == (0, 0, 1, 0)


async def test_hosts_sharing_the_database_each_download_a_different_recording(
    database_url: str, db: Database, pbx: SimulatedPbx, tmp_path: Path
) -> None:
    project = (await builders.admin(db))["project_id"]
    now = clock.now()
    for n in range(6):
        call = await calls.ensure_call(db, project, f"c-{n}", now)
        await recordings.note(db, project, call["id"], f"{pbx.url}/records/c-{n}.wav", now)
    settings = recordings.Settings(directory=tmp_path)
    # On PostgreSQL a second connection pool is a second host; SQLite is one process's file,
    # so there two workers of one process share it.
    async with (
        Database(database_url)
        if db.dialect == "postgresql"
        else contextlib.nullcontext(db) as other,
        httpx.AsyncClient() as http,
    ):
        stored = await asyncio.gather(
            recordings.download_due(db, http, settings, limit=10),
            recordings.download_due(other, http, settings, limit=10),
        )
    assert sum(stored) == 6
    rows = await db.fetch_all(recordings_table.select())
    assert {(r["state"], r["attempts"]) for r in rows} == {("stored", 1)}
    assert len(list(tmp_path.rglob("*.wav"))) == 6
    usage = await recordings.space_used(db, project)
    assert (usage.files, usage.waiting, usage.failed) == (6, 0, 0)
    assert usage.bytes == sum(p.stat().st_size for p in tmp_path.rglob("*.wav"))


def test_keep_days_is_a_whole_number_of_days_or_nothing() -> None:
    assert recordings.parse_keep_days(" ") is None
    assert recordings.parse_keep_days(" 30 ") == 30
    for bad in ("0", "-1", "1.5", "abc", "3651", "١٢", "9" * 5000):
        with pytest.raises(ValidationError) as refused:
            recordings.parse_keep_days(bad)
        assert "keep_days" in refused.value.errors


async def test_a_call_already_older_than_kept_is_not_downloaded(
    db: Database, pbx: SimulatedPbx, tmp_path: Path
) -> None:
    project = (await builders.admin(db))["project_id"]
    now = clock.now()
    await recordings.set_keep_days(db, project, "30", now)
    old = await calls.ensure_call(db, project, "old", now)
    await calls.update_call(db, old["id"], {"started_at": now - timedelta(days=40)})
    new = await calls.ensure_call(db, project, "new", now)
    for call in (old, new):  # both read back from the PBX's history today
        await recordings.note(db, project, call["id"], f"{pbx.url}/records/x.wav", now)
    async with httpx.AsyncClient() as http:
        stored = await recordings.download_due(db, http, recordings.Settings(tmp_path), 10)
    assert stored == 1
    states = {r["call_id"]: r["state"] for r in await db.fetch_all(recordings_table.select())}
    assert states == {old["id"]: "expired", new["id"]: "stored"}
    assert len(list(tmp_path.rglob("*.wav"))) == 1


async def test_retention_expires_old_audio_a_batch_at_a_time_and_keeps_the_calls(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first purge after an admin sets «Хранить записи» may find a million old copies:
    they are read a batch at a time, never all at once, and every one of them goes."""
    project = (await builders.admin(db))["project_id"]
    now = clock.now()
    await recordings.set_keep_days(db, project, "30", now)
    store = tmp_path / "recordings"
    store.mkdir()
    for n in range(5):
        call = await calls.ensure_call(db, project, f"c-{n}", now)
        place = store / f"{n}.wav"
        place.write_bytes(b"RIFF")
        await recordings.note(db, project, call["id"], f"https://pbx.example/{n}.wav", now)
        await db.execute(
            recordings_table.update()
            .where(recordings_table.c.call_id == call["id"])
            .values(state="stored", path=place.name, stored_at=now - timedelta(days=40 - n))
        )
    month = store / str(project) / "2026-01"  # and what downloads that died left behind
    month.mkdir(parents=True)
    stale, fresh = month / ".1.abc.part", month / ".2.abc.part"
    for temp in (stale, fresh):
        temp.write_bytes(b"RI")
    two_hours_ago = (now - timedelta(hours=2)).timestamp()
    os.utime(stale, (two_hours_ago, two_hours_ago))
    monkeypatch.setattr(recordings, "PURGE_BATCH", 2)
    read = []
    fetch_all = db.fetch_all

    async def counting(query: object) -> list[dict[str, object]]:
        rows = await fetch_all(query)  # type: ignore[arg-type]
        read.append(len(rows))
        return rows

    monkeypatch.setattr(db, "fetch_all", counting)
    assert await recordings.purge(db, recordings.Settings(directory=store), now) == 5
    assert max(read) <= 2
    monkeypatch.undo()
    rows = await db.fetch_all(recordings_table.select())
    assert {(r["state"], r["path"]) for r in rows} == {("expired", "")}
    assert sorted(p.name for p in store.rglob("*") if p.is_file()) == [fresh.name]
    assert len(await db.fetch_all(calls_table.select())) == 5
