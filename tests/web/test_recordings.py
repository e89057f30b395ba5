"""Recordings kept by the CRM (issue 13, item 2): the real app on a real database file downloads
each call's recording over real HTTP from our PBX simulator, serves it with Range to the
project's employees only, retries what failed and deletes what is older than the project keeps."""

from __future__ import annotations

import stat
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from core import clock, dialogs, projects
from core.db import Database
from core.tables import calls, recordings
from core.telephony import connection
from core.telephony import recordings as kept
from tests.support import builders
from tests.support.crm_and_pbx import TOKEN
from tests.support.databases import run_core
from tests.support.megafon import post_webhook
from tests.support.pages import fragment, page, text_of
from tests.support.servers import LiveBrowser, LiveServer, Stream
from web.app import create_app
from web.config import Settings
from web.pbx_simulator import SimulatorConfig, create_simulator
from web.pbx_simulator.recordings import tone_wav

LIMIT = 100_000  # bytes: RECORDING_MAX_MB of the test app


class Crm:
    def __init__(self, crm: LiveServer, sim: LiveServer, url: str, store: Path, ids: dict) -> None:
        self.crm, self.sim, self.url, self.store, self.ids = crm, sim, url, store, ids
        self.browsers: list[LiveBrowser] = []

    def browser(self, email: str) -> LiveBrowser:
        client = LiveBrowser(base_url=self.crm.url, follow_redirects=True, timeout=15)
        client.login(email)
        client.follow_redirects = False  # the answers themselves: 303, 404…
        self.browsers.append(client)
        return client

    def history(self, callid: str, query: str = "") -> float:
        """The PBX's history of a call with a recording link; how long the webhook took."""
        link = f"{self.sim.url}/records/{callid}.wav" + (f"?{query}" if query else "")
        started = time.monotonic()
        post_webhook(
            self.crm.url,
            self.ids["key"],
            cmd="history",
            type="in",
            status="Success",
            callid=callid,
            user="ivanov",
            duration="12",
            link=link,
        )
        return time.monotonic() - started

    def recording(self, callid: str) -> dict[str, Any] | None:
        async def read(db: Database) -> dict[str, Any] | None:
            return await db.fetch_one(
                sa.select(recordings, calls.c.client_id)
                .select_from(recordings.join(calls, calls.c.id == recordings.c.call_id))
                .where(calls.c.callid == callid)
            )

        row: dict[str, Any] | None = run_core(self.url, read)
        return row

    def settled(self, callid: str, *states: str, seconds: float = 15) -> dict[str, Any]:
        deadline = time.monotonic() + seconds
        while True:
            row = self.recording(callid)
            if row is not None and row["state"] in states:
                return row
            if time.monotonic() > deadline:
                raise AssertionError(f"{callid}: {row}")
            time.sleep(0.05)


@pytest.fixture
def crm(database_url: str, tmp_path: Path) -> Iterator[Crm]:
    store = tmp_path / "recordings"
    settings = Settings(
        database_url=database_url,
        secret_key="e2e",
        cheap_passwords=True,
        pbx_timeout=5.0,
        pbx_allow_private=True,
        recordings_dir=store,
        recording_max_mb=LIMIT / (1024 * 1024),
        sse_ping=0.5,  # a live stream closes within one ping
        recording_timeout=1.0,
        recording_poll=0.05,
        recording_retry_base=0.002,  # back-off 1, 5, 30, 120, 720 of these: under 2 s in all
    )
    with (
        LiveServer(create_app(settings)) as app,
        LiveServer(create_simulator(SimulatorConfig(api_key=TOKEN))) as sim,
    ):

        async def people(db: Database) -> dict[str, Any]:
            admin = await builders.admin(db, email="anna@romashka.ru")
            project = admin["project_id"]
            await builders.manager(db, project, email="ivan@romashka.ru", pbx_user="ivanov")
            client = await builders.client(db, project, phone="+7 926 555-01-01")
            await builders.admin(db, project="Лютик", email="boss@lutik.ru")
            await connection.save(db, project, TOKEN, sim.url, allow_private=True)
            key = await projects.generate_api_key(db, project)
            return {"project": project, "client": client["id"], "key": key}

        servers = Crm(app, sim, database_url, store, run_core(database_url, people))
        yield servers
        for browser in servers.browsers:
            browser.close()


def test_recordings_are_downloaded_served_with_range_retried_and_expired(crm: Crm) -> None:
    manager = crm.browser("ivan@romashka.ru")
    card_path = f"/clients/{crm.ids['client']}"
    stream = Stream(manager, page(manager.get(card_path)).body["sse-connect"])
    # A recording that will be slow does not hold up the webhook that brought it.
    assert crm.history("slow", "fail=slow&delay=3") < 0.8
    crm.history("plain")
    crm.history("interrupted", "fail=interrupt")
    crm.history("keyed", "key=1")
    crm.history("oversized", f"size={LIMIT + 1}")
    crm.history("missing", "fail=missing&times=0")
    crm.history("broken", "fail=interrupt&times=0")

    plain = crm.settled("plain", "stored")
    file = crm.store / plain["path"]
    assert file.read_bytes() == tone_wav()
    month = plain["created_at"].strftime("%Y-%m")
    assert plain["path"] == f"{crm.ids['project']}/{month}/{plain['call_id']}.wav"
    assert plain["size"] == len(tone_wav()) and plain["content_type"] == "audio/wav"
    # Conversations are the owner's only, as the database is.
    assert [stat.S_IMODE(p.stat().st_mode) for p in (file, file.parent, file.parent.parent)] == [
        0o600,
        0o700,
        0o700,
    ]

    interrupted = crm.settled("interrupted", "stored")
    assert interrupted["attempts"] == 2  # the first was cut off halfway, the next one stored
    slow = crm.settled("slow", "stored")
    assert slow["attempts"] == 2  # the first ran past RECORDING_TIMEOUT
    assert crm.settled("keyed", "stored")["attempts"] == 1  # 401, then asked again with the key
    too_large = crm.settled("oversized", "too_large")
    assert too_large["attempts"] == 1 and "МБ" in too_large["last_error"]
    assert crm.settled("missing", "gone")["attempts"] == 1
    broken = crm.settled("broken", "failed")
    assert broken["attempts"] == len(kept.BACKOFF) + 1
    assert broken["last_error"] == "АТС оборвала соединение посреди записи"
    stored = {str(p.relative_to(crm.store)) for p in crm.store.rglob("*") if p.is_file()}
    assert stored == {crm.recording(c)["path"] for c in ("plain", "interrupted", "slow", "keyed")}

    # The card and «Звонки» play the CRM's copy, or say why there is none; an open card is
    # told when the copy is stored.
    own = f"/recordings/{plain['call_id']}"
    try:
        srcs: list[str] = []
        while own not in srcs:
            item = fragment(stream.wait_for("call").data).select_one("li.call-item")
            if item is not None and item["id"] == f"call-item-{plain['call_id']}":
                srcs = [audio["src"] for audio in item.select("audio")]
    finally:
        stream.close()
    card = page(manager.get(f"/clients/{plain['client_id']}"))
    item = card.select_one(f"#call-item-{plain['call_id']}")
    assert item is not None and item.select_one("audio")["src"] == own
    broken_item = card.select_one(f"#call-item-{broken['call_id']}")
    assert broken_item is not None
    assert "Запись не удалось скачать: АТС оборвала соединение" in broken_item.get_text()
    journal = page(manager.get("/calls"))
    row = journal.select_one(f"#journal-call-{plain['call_id']}")
    assert row is not None and row.select_one("audio")["src"] == own

    whole = manager.get(own)
    assert whole.status_code == 200 and whole.content == tone_wav()
    assert whole.headers["content-type"] == "audio/wav"
    assert whole.headers["cache-control"].startswith("private")
    part = manager.get(own, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 100-199/{len(tone_wav())}"
    assert part.content == tone_wav()[100:200]
    assert manager.get(own, headers={"Range": "bytes=999999-"}).status_code == 416

    # Another project's admin finds nothing; a signed-out visitor is sent to sign in.
    stranger = crm.browser("boss@lutik.ru")
    other_client = stranger.get(f"/clients/{plain['client_id']}")
    other = stranger.get(own)
    assert other.status_code == other_client.status_code == 404
    assert tone_wav()[:100] not in other.content
    signed_out = httpx.get(crm.crm.url + own, follow_redirects=False)
    card_signed_out = httpx.get(crm.crm.url + f"/clients/{plain['client_id']}")
    assert signed_out.status_code == card_signed_out.status_code
    assert signed_out.headers.get("location") is not None
    assert tone_wav()[:100] not in signed_out.content
    missing = manager.get(f"/recordings/{too_large['call_id']}")
    assert missing.status_code == 404
    # A stored copy this host cannot find (RECORDINGS_DIR not the shared folder): the player
    # is sent to the PBX's link, as while the copy was on its way, rather than left silent.
    keyed = crm.recording("keyed")
    hidden = crm.store / (keyed["path"] + ".away")
    (crm.store / keyed["path"]).rename(hidden)
    try:
        elsewhere = manager.get(f"/recordings/{keyed['call_id']}", follow_redirects=False)
    finally:
        hidden.rename(crm.store / keyed["path"])
    assert elsewhere.status_code == 307
    assert elsewhere.headers["location"] == keyed["source_url"]

    # «Телефония»: the space used, what waits or failed, and how long they are kept.
    admin = crm.browser("anna@romashka.ru")
    megafon = admin.get("/telephony/megafon")
    usage = page(megafon).select_one("#recordings-usage")
    assert usage is not None
    mb = f"{4 * len(tone_wav()) / 1048576:.1f}".replace(".", ",")
    assert usage.get_text(" ", strip=True) == (
        f"Записи разговоров — файлов: 4, {mb} МБ. Не удалось скачать: 3."
    )
    for bad in ("abc", "0", "-5", "1.5", "99999"):
        refused = admin.submit("/telephony/megafon/recordings", {"keep_days": bad})
        assert refused.status_code == 422
        error = page(refused).select_one("#e-keep_days")
        assert error is not None and "от 1 до 3650" in error.get_text()
    saved = admin.submit("/telephony/megafon/recordings", {"keep_days": "30"})
    assert saved.status_code == 303
    assert run_core(crm.url, kept.keep_days, crm.ids["project"]) == 30
    journal = text_of(admin.get("/audit"))  # a shorter period deletes audio: it is journaled
    assert "Срок хранения записей разговоров: всегда → 30 дн." in journal

    # Thirty-one days later the audio is gone; the call and its dialog stay.
    later = clock.now() + timedelta(days=31)
    temp = file.parent / f".{plain['call_id']}.left-behind.part"
    temp.write_bytes(b"half")
    expired = run_core(crm.url, kept.purge, kept.Settings(directory=crm.store), later)
    assert expired == 7
    assert not file.exists() and not temp.exists()
    assert not [p for p in crm.store.rglob("*") if p.is_file()]
    assert crm.recording("plain")["state"] == "expired"
    texts = [
        m["text"]
        for m in run_core(crm.url, dialogs.dialog, crm.ids["project"], crm.ids["client"]).messages
    ]
    assert texts.count("megafon_call_status Success") == 7
    card = page(manager.get(f"/clients/{plain['client_id']}"))
    item = card.select_one(f"#call-item-{plain['call_id']}")
    assert item is not None and item.select_one("audio") is None
    assert "Запись удалена по сроку хранения" in item.get_text()
    assert manager.get(own).status_code == 404
    saved = admin.submit("/telephony/megafon/recordings", {"keep_days": ""})
    assert saved.status_code == 303
    assert run_core(crm.url, kept.keep_days, crm.ids["project"]) is None


def test_recordings_are_kept_beside_the_sqlite_file_unless_told(tmp_path: Path) -> None:
    """Two databases never share a folder of files named by project and call ids."""

    def where(**env: str) -> Path | None:
        return Settings.from_environ({"SECRET_KEY": "x", **env}, tmp_path).recordings_dir

    assert where() == tmp_path / "recordings"  # data/crm.sqlite3 → data/recordings
    assert where(DATABASE_URL="sqlite:////srv/demo/crm.sqlite3") == Path("/srv/demo/recordings")
    assert where(DATABASE_URL="sqlite:///copy/crm.sqlite3?mode=rwc") == Path("copy/recordings")
    assert where(DATABASE_URL="postgresql://crm@db/crm") == tmp_path / "recordings"
    told = where(DATABASE_URL="sqlite:////srv/demo/crm.sqlite3", RECORDINGS_DIR="/mnt/shared")
    assert told == Path("/mnt/shared")
