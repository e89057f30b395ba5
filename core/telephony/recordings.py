"""The CRM's own copy of each call's recording (issue 13, item 2).

A call's `record_link` (from a `history` webhook or reconciliation) is `note`d: a `recordings`
row waits, `pending`, until a download worker of any app host claims it (`Database.claim`: two
hosts never take the same row), streams the file from the PBX into a temporary file next to its
place and renames it into `<dir>/<project>/<YYYY-MM>/<call>.<ext>` (atomic: a reader never sees
half a file; hosts that share the database share the directory). The file is bounded in size and
the whole download in time. A PBX that answers 401/403 is asked once more with the project's key
as `X-API-KEY` (PROTOCOL.md §1.8, §6.2).

States:

    pending ──▶ downloading ──▶ stored ──(older than keep_days)──▶ expired
       ▲             │
       └── back-off ─┤  (failed after the last retry, with the reason in `last_error`)
                     ├──▶ too_large   bigger than the limit: not retried
                     └──▶ gone        404/410: the PBX no longer has it

A claim holds the row for the download's time limit and a little more (`next_attempt_at`): a host
that dies mid-download leaves the row to be taken again. The webhook that noted the link never
waits for the download.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import mimetypes
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import Any, TypedDict, cast
from urllib.parse import urlsplit

import httpx
import sqlalchemy as sa

from core import audit, clock
from core.db import Database
from core.errors import ValidationError
from core.i18n import gettext as _
from core.tables import calls, recording_settings, recordings
from core.telephony import call_journal, connection
from core.telephony import calls as call_records
from core.telephony.public_address import NotPublicAddress

log = logging.getLogger("crm.recordings")


class State(StrEnum):
    PENDING = "pending"
    DOWNLOADING = "downloading"
    STORED = "stored"
    FAILED = "failed"
    TOO_LARGE = "too_large"
    GONE = "gone"
    EXPIRED = "expired"


# Waits after each failed attempt, in units of `Settings.retry_base` (a minute by default):
# 1, 5, 30 minutes, 2 hours, 12 hours; the attempt after the last wait is the last one.
BACKOFF = (1, 5, 30, 120, 720)
MAX_KEEP_DAYS = 3650
_TEMP_SUFFIX = ".part"
_EXTENSIONS = {
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/wave": "wav",
    "audio/vnd.wave": "wav",
    "audio/ogg": "ogg",
    "audio/opus": "opus",
    "audio/mp4": "m4a",
    "audio/x-m4a": "m4a",
    "audio/aac": "aac",
    "audio/webm": "webm",
    "audio/flac": "flac",
}
_KNOWN_EXTENSIONS = set(_EXTENSIONS.values())


@dataclass(frozen=True)
class Settings:
    """Where recordings live and how they are fetched (`web/config.py` reads the environment)."""

    directory: Path = Path("data/recordings")
    max_bytes: int = 50 * 1024 * 1024  # RECORDING_MAX_MB
    timeout: float = 120.0  # RECORDING_TIMEOUT: seconds for the whole download
    poll: float = 5.0  # seconds between looks for due recordings
    retry_base: float = 60.0  # seconds: the unit of `BACKOFF`
    purge_every: float = 3600.0  # seconds between retention purges


class Recording(TypedDict):
    """A row of `recordings`."""

    call_id: int
    project_id: int
    state: str
    source_url: str
    path: str  # relative to the recordings directory, "" until stored
    size: int
    content_type: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str
    created_at: datetime
    stored_at: datetime | None


# Noting a link


async def note(db: Database, project_id: int, call_id: int, link: str, now: datetime) -> None:
    """The call's recording link was set or changed: its download is due now. The same link
    again changes nothing; a new one starts over (inside the caller's transaction). A file
    stored from the old link keeps its `path` until the new one replaces it."""
    link = link.strip()
    if not link:
        return
    current = await db.fetch_one(
        sa.select(recordings.c.source_url).where(recordings.c.call_id == call_id)
    )
    if current is not None and current["source_url"] == link:
        return
    await db.upsert(
        recordings,
        {
            "call_id": call_id,
            "project_id": project_id,
            "state": State.PENDING.value,
            "source_url": link,
            "size": 0,
            "content_type": "",
            "attempts": 0,
            "next_attempt_at": now,
            "last_error": "",
            "created_at": now,
            "stored_at": None,
        },
        keys=["call_id"],
    )


async def get(db: Database, project_id: int, call_id: int) -> Recording | None:
    row = await db.fetch_one(
        recordings.select().where(
            recordings.c.call_id == call_id, recordings.c.project_id == project_id
        )
    )
    return cast(Recording | None, row)


def file_of(settings: Settings, recording: Recording) -> Path | None:
    """The stored file of a recording, when it is stored and there."""
    if recording["state"] != State.STORED or not recording["path"]:
        return None
    path = settings.directory / recording["path"]
    return path if path.is_file() else None


def media_type(recording: Recording) -> str:
    """What the browser is told the file is: audio as the PBX said, or plain bytes."""
    content_type = recording["content_type"]
    return content_type if content_type.startswith("audio/") else "application/octet-stream"


# Downloading


class _Failure(Exception):
    """One attempt failed; `state` is where the row goes (None: retry with back-off)."""

    def __init__(self, reason: str, state: State | None = None) -> None:
        super().__init__(reason)
        self.reason, self.state = reason, state


async def run_forever(db: Database, http: httpx.AsyncClient, settings: Settings) -> None:
    """Download due recordings and purge expired ones until cancelled."""
    purged_at: float | None = None
    loop = asyncio.get_running_loop()
    while True:
        try:
            if purged_at is None or loop.time() - purged_at >= settings.purge_every:
                purged_at = loop.time()
                await purge(db, settings, clock.now())
            if await download_due(db, http, settings, limit=20):
                continue  # more may be due at once
        except Exception:  # a busy database now is no reason to stop trying later
            log.exception("recordings worker")
        await asyncio.sleep(settings.poll)


async def download_due(
    db: Database, http: httpx.AsyncClient, settings: Settings, limit: int = 100
) -> int:
    """Download up to `limit` due recordings, one after another; how many were stored."""
    stored = 0
    for _turn in range(limit):
        recording = await _claim(db, settings, clock.now())
        if recording is None:
            break
        stored += await _attempt(db, http, settings, recording)
    return stored


async def _claim(db: Database, settings: Settings, now: datetime) -> Recording | None:
    row = await db.claim(
        recordings,
        recordings.c.state.in_([State.PENDING.value, State.DOWNLOADING.value]),
        recordings.c.next_attempt_at <= now,
        order_by=recordings.c.next_attempt_at,
        update={
            "state": State.DOWNLOADING.value,
            # held for the download's time: a host that dies mid-way leaves it to another
            "next_attempt_at": now + timedelta(seconds=settings.timeout + 60),
            "attempts": recordings.c.attempts + 1,
        },
    )
    return cast(Recording | None, row)


async def _attempt(
    db: Database, http: httpx.AsyncClient, settings: Settings, recording: Recording
) -> int:
    attempt = recording["attempts"] + 1
    if await _outlived(db, recording, clock.now()):
        await _finish(db, recording, state=State.EXPIRED, next_attempt_at=None, last_error="")
        return 0
    try:
        path, size, content_type = await _download(db, http, settings, recording)
    except _Failure as failure:
        await _failed(db, settings, recording, attempt, failure)
        return 0
    done = await _finish(
        db,
        recording,
        state=State.STORED,
        path=path,
        size=size,
        content_type=content_type,
        next_attempt_at=None,
        last_error="",
        stored_at=clock.now(),
    )
    if done and recording["path"] and recording["path"] != path:  # from an earlier link
        with contextlib.suppress(OSError):
            (settings.directory / recording["path"]).unlink()
    if not done:  # expired or given a new link meanwhile: keep the file only if it is used
        current = await get(db, recording["project_id"], recording["call_id"])
        if current is None or current["state"] != State.STORED or current["path"] != path:
            with contextlib.suppress(OSError):
                (settings.directory / path).unlink()
    return 1 if done else 0


async def _failed(
    db: Database, settings: Settings, recording: Recording, attempt: int, failure: _Failure
) -> None:
    state = failure.state
    next_at: datetime | None = None
    if state is None:
        if attempt > len(BACKOFF):
            state = State.FAILED
        else:
            state = State.PENDING
            wait = settings.retry_base * BACKOFF[attempt - 1]
            next_at = clock.now() + timedelta(seconds=wait)
    log.info("recording of call %s, attempt %s: %s", recording["call_id"], attempt, failure.reason)
    await _finish(db, recording, state=state, next_attempt_at=next_at, last_error=failure.reason)


async def _finish(db: Database, recording: Recording, **values: Any) -> bool:
    """Write the attempt's outcome, unless the link changed meanwhile (then it starts over)."""
    async with db.transaction():
        row = await db.fetch_one(
            recordings.update()
            .where(
                recordings.c.call_id == recording["call_id"],
                recordings.c.source_url == recording["source_url"],
                recordings.c.state == State.DOWNLOADING.value,
            )
            .values(**values)
            .returning(recordings.c.call_id)
        )
        if row is not None:
            await _shown_anew(db, recording)
    return row is not None


async def _shown_anew(db: Database, recording: Recording) -> None:
    """Open cards and journals show the call's player anew (inside the transaction)."""
    project_id, call_id = recording["project_id"], recording["call_id"]
    client_id = await db.fetch_val(sa.select(calls.c.client_id).where(calls.c.id == call_id))
    await call_journal.announce(db, project_id, call_id)
    if client_id is not None:
        await call_records.changed(db, project_id, client_id, call_id)


async def _download(
    db: Database, http: httpx.AsyncClient, settings: Settings, recording: Recording
) -> tuple[str, int, str]:
    """Fetch the file into its place; its relative path, size and content type."""
    url = recording["source_url"]
    if urlsplit(url).scheme not in ("http", "https"):
        raise _Failure(_("ссылка на запись не похожа на адрес в интернете"), State.GONE)
    place = _place(recording)
    target = settings.directory / place.parent
    try:
        settings.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        for folder in (target.parent, target):  # conversations: the owner's only, as the database
            folder.mkdir(mode=0o700, exist_ok=True)
    except OSError as e:
        raise _Failure(_("не удалось создать папку для записей ({error})").format(error=e)) from e
    try:
        async with asyncio.timeout(settings.timeout):
            return await _fetch(db, http, settings, recording, target, place)
    except TimeoutError as e:
        raise _Failure(
            _("АТС не отдала запись за {seconds:g} с").format(seconds=settings.timeout)
        ) from e


async def _fetch(
    db: Database,
    http: httpx.AsyncClient,
    settings: Settings,
    recording: Recording,
    target: Path,
    place: PurePosixPath,
) -> tuple[str, int, str]:
    url = recording["source_url"]
    headers: dict[str, str] = {}
    for with_key in (False, True):
        if with_key:
            pbx = await connection.get(db, recording["project_id"])
            key = pbx["api_token"] if pbx is not None else ""
            if not key:
                raise _Failure(_("АТС не отдала запись без ключа, а ключ АТС не сохранён"))
            headers = {"X-API-KEY": key}
        try:
            async with http.stream(
                "GET", url, headers=headers, follow_redirects=not with_key
            ) as response:
                status = response.status_code
                if status in (401, 403) and not with_key:
                    continue
                _check_status(status, with_key)
                return await _save(settings, response, target, place)
        except NotPublicAddress as e:
            raise _Failure(_("адрес записи ведёт во внутреннюю сеть"), State.GONE) from e
        except httpx.TimeoutException as e:
            raise _Failure(_("АТС не ответила вовремя")) from e
        except httpx.RemoteProtocolError as e:
            raise _Failure(_("АТС оборвала соединение посреди записи")) from e
        except httpx.ConnectError as e:
            raise _Failure(_("не удалось соединиться с АТС")) from e
        except httpx.HTTPError as e:
            raise _Failure(_("ошибка сети ({error})").format(error=type(e).__name__)) from e
    raise AssertionError("unreachable")  # pragma: no cover


def _check_status(status: int, with_key: bool) -> None:
    if 200 <= status < 300:
        return
    if status in (404, 410):
        raise _Failure(
            _("АТС больше не хранит эту запись (HTTP {status})").format(status=status), State.GONE
        )
    if status in (401, 403):
        raise _Failure(
            _("АТС не приняла ключ при скачивании записи (HTTP {status})").format(status=status)
        )
    if 300 <= status < 400:
        raise _Failure(_("АТС перенаправляет запрос записи (HTTP {status})").format(status=status))
    raise _Failure(_("АТС ответила ошибкой (HTTP {status})").format(status=status))


def _too_large(settings: Settings) -> _Failure:
    megabytes = settings.max_bytes / (1024 * 1024)
    return _Failure(
        _("запись больше {mb:g} МБ — такие не скачиваются").format(mb=round(megabytes, 1)),
        State.TOO_LARGE,
    )


async def _save(
    settings: Settings, response: httpx.Response, target: Path, place: PurePosixPath
) -> tuple[str, int, str]:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > settings.max_bytes:
        raise _too_large(settings)
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    final = place.with_suffix("." + _extension(content_type, str(response.url)))
    fd, temp = tempfile.mkstemp(dir=target, prefix=f".{place.stem}.", suffix=_TEMP_SUFFIX)
    try:
        size = 0
        with os.fdopen(fd, "wb") as f:
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > settings.max_bytes:
                    raise _too_large(settings)
                f.write(chunk)
        if size == 0:
            raise _Failure(_("АТС прислала пустой файл"))
        os.replace(temp, settings.directory / final)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    return str(final), size, content_type[:100]


def _place(recording: Recording) -> PurePosixPath:
    month = recording["created_at"].strftime("%Y-%m")
    return PurePosixPath(str(recording["project_id"]), month, str(recording["call_id"]))


def _extension(content_type: str, url: str) -> str:
    """`mp3`, `wav`…: from the content type, else from the link's name, else `mp3`."""
    if content_type in _EXTENSIONS:
        return _EXTENSIONS[content_type]
    suffix = PurePosixPath(urlsplit(url).path).suffix.lower().lstrip(".")
    if suffix in _KNOWN_EXTENSIONS:
        return suffix
    guessed = mimetypes.guess_extension(content_type) if content_type.startswith("audio/") else None
    if guessed and guessed.lstrip(".") in _KNOWN_EXTENSIONS:
        return guessed.lstrip(".")
    return "mp3"


# Retention


async def keep_days(db: Database, project_id: int) -> int | None:
    """How many days the project keeps recordings; None: for ever."""
    value = await db.fetch_val(
        sa.select(recording_settings.c.keep_days).where(
            recording_settings.c.project_id == project_id
        )
    )
    return None if value is None else int(value)


def parse_keep_days(text: str) -> int | None:
    """The form's «Хранить записи разговоров, дней»: empty is for ever."""
    text = text.strip()
    if not text:
        return None
    # the length first: `int` refuses a number of more than 4,300 digits with an exception
    too_long = len(text) > len(str(MAX_KEEP_DAYS))
    if too_long or not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_KEEP_DAYS:
        raise ValidationError.single(
            "keep_days",
            _("Укажите целое число дней от 1 до {max} или оставьте поле пустым.").format(
                max=MAX_KEEP_DAYS
            ),
        )
    return int(text)


async def set_keep_days(
    db: Database,
    project_id: int,
    text: str,
    now: datetime,
    *,
    who: audit.Actor | None = None,
) -> int | None:
    """Save the admin's choice (validated); the number of days, or None for ever. A change
    goes into «Журнал действий»: a shorter period deletes audio."""
    days = parse_keep_days(text)
    async with db.transaction():
        old = await keep_days(db, project_id)
        if who is not None and old != days:
            await audit.record(
                db,
                project_id,
                who,
                audit.Action.RECORDINGS_KEPT_CHANGED,
                details={"old": old, "new": days},
            )
        if days is None:
            await db.execute(
                recording_settings.delete().where(recording_settings.c.project_id == project_id)
            )
        else:
            await db.upsert(
                recording_settings,
                {"project_id": project_id, "keep_days": days, "updated_at": now},
                keys=["project_id"],
            )
    return days


PURGE_BATCH = 500  # rows read at a time: the first purge may find a million old recordings


async def purge(db: Database, settings: Settings, now: datetime) -> int:
    """Delete the audio of calls older than their project keeps (the calls and their dialogs
    stay), and temporary files no download can still be writing; how many were expired.

    Stored copies are found by when they were stored (an index: a copy stored before the
    cutoff is of a call older than it), the few others by their call's time."""
    projects = await db.fetch_all(recording_settings.select())
    expired = 0
    for project in projects:
        cutoff = now - timedelta(days=project["keep_days"])
        mine = recordings.c.project_id == project["project_id"]
        stored = sa.select(recordings.c.call_id, recordings.c.path).where(
            mine, recordings.c.state == State.STORED.value, recordings.c.stored_at < cutoff
        )
        others = (
            sa.select(recordings.c.call_id, recordings.c.path)
            .select_from(recordings.join(calls, calls.c.id == recordings.c.call_id))
            .where(mine, recordings.c.state.in_(_NOT_STORED), _call_time() < cutoff)
        )
        for query in (stored, others):
            while rows := await db.fetch_all(query.limit(PURGE_BATCH)):  # each leaves the query
                for row in rows:
                    await _expire(db, settings, row["call_id"], row["path"])
                expired += len(rows)
    # A listing of every month folder: a million files take seconds, not on the event loop.
    await asyncio.to_thread(_remove_stray_temp_files, settings, now)
    return expired


_NOT_STORED = [
    s.value for s in (State.PENDING, State.DOWNLOADING, State.FAILED, State.TOO_LARGE, State.GONE)
]


def _call_time() -> sa.ColumnElement[Any]:
    return sa.func.coalesce(calls.c.started_at, calls.c.created_at)


async def _expire(db: Database, settings: Settings, call_id: int, path: str) -> None:
    await db.execute(
        recordings.update()
        .where(recordings.c.call_id == call_id)
        .values(state=State.EXPIRED.value, path="", next_attempt_at=None, last_error="")
    )
    if path:
        with contextlib.suppress(FileNotFoundError):
            (settings.directory / path).unlink()


async def _outlived(db: Database, recording: Recording, now: datetime) -> bool:
    """Whether the call is already older than its project keeps recordings (a call read back
    from the PBX's history long after): then it is not downloaded at all."""
    days = await keep_days(db, recording["project_id"])
    if days is None:
        return False
    moment = await db.fetch_val(sa.select(_call_time()).where(calls.c.id == recording["call_id"]))
    return moment is not None and bool(moment < now - timedelta(days=days))


def _remove_stray_temp_files(settings: Settings, now: datetime) -> None:
    """Temporary files older than any download can last: left by a host that died."""
    if not settings.directory.is_dir():
        return
    oldest = now.timestamp() - max(3600.0, 2 * settings.timeout)
    for temp in settings.directory.glob(f"*/*/.*{_TEMP_SUFFIX}"):
        with contextlib.suppress(OSError):
            if temp.stat().st_mtime < oldest:
                temp.unlink()


# What «Телефония» shows


@dataclass(frozen=True)
class Usage:
    files: int
    bytes: int
    waiting: int  # pending or being downloaded
    failed: int  # failed, too large or gone


async def space_used(db: Database, project_id: int) -> Usage:
    """The project's stored recordings (count and bytes) and how many wait or failed."""
    rows = await db.fetch_all(
        sa.select(
            recordings.c.state,
            sa.func.count().label("n"),
            sa.func.coalesce(sa.func.sum(recordings.c.size), 0).label("size"),
        )
        .where(recordings.c.project_id == project_id)
        .group_by(recordings.c.state)
    )
    by_state = {row["state"]: (int(row["n"]), int(row["size"])) for row in rows}
    stored = by_state.get(State.STORED.value, (0, 0))

    def count(*states: State) -> int:
        return sum(by_state.get(s.value, (0, 0))[0] for s in states)

    return Usage(
        files=stored[0],
        bytes=stored[1],
        waiting=count(State.PENDING, State.DOWNLOADING),
        failed=count(State.FAILED, State.TOO_LARGE, State.GONE),
    )
