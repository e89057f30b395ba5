"""Configuration, read once from the environment; tests build their own `Settings`."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx

from core.db.sqlite import sqlite_path
from core.sessions import Lifetime
from core.telephony.recordings import Settings as RecordingSettings


@dataclass(frozen=True)
class Settings:
    """Everything the app needs to know about where it runs."""

    database_url: str
    secret_key: str
    public_url: str | None = None
    cheap_passwords: bool = False  # tests: argon2 with tiny parameters
    https_only_cookies: bool = False
    pbx_timeout: float = 10.0  # seconds for a whole PBX request (connecting: at most 3)
    pbx_allow_private: bool = False  # let the PBX be at a loopback/private address (simulator)
    webhook_journal_days: int = 90  # «Журнал вебхуков» forgets older deliveries
    webhook_journal_max: int = 100_000  # and keeps at most this many per project
    redis_url: str | None = None  # live updates between processes through Redis pub/sub
    sse_ping: float = 15.0  # seconds between keep-alive comments on an idle live stream
    log_level: str = "INFO"  # DEBUG, INFO, WARNING, ERROR
    login_limits: str = "5/minute;20/hour"  # failed sign-ins per account and per address
    login_limits_prefix: str = "crm-login"  # Redis keys of those counts start with it
    password_checks: int = 2  # argon2 checks at once (64 MB each); the rest queue
    password_wait: float = 10.0  # seconds a sign-in may queue for its check before a 503
    session_idle_hours: float = 12.0  # a session unused this long has ended
    session_max_days: float = 30.0  # and any session this old
    session_check: float = 5.0  # seconds: an open live stream re-checks its session this often
    pbx_sync_minutes: float = 0.0  # reconcile with the PBX's history this often; 0: never
    recordings_dir: Path | None = None  # the CRM's copies of call recordings; None: not kept
    recording_max_mb: float = 50.0  # a bigger recording is not downloaded
    recording_timeout: float = 120.0  # seconds for a whole recording download
    recording_poll: float = 5.0  # seconds between looks for recordings to download
    recording_retry_base: float = 60.0  # seconds: failures wait 1, 5, 30, 120, 720 of them

    @property
    def session_lifetime(self) -> Lifetime:
        return Lifetime(
            idle=timedelta(hours=self.session_idle_hours),
            absolute=timedelta(days=self.session_max_days),
        )

    @property
    def pbx_timeouts(self) -> httpx.Timeout:
        return httpx.Timeout(self.pbx_timeout, connect=min(3.0, self.pbx_timeout))

    @property
    def recordings(self) -> RecordingSettings | None:
        """How recordings are kept; None when they are not (`recordings_dir` unset)."""
        if self.recordings_dir is None:
            return None
        return RecordingSettings(
            directory=self.recordings_dir,
            max_bytes=int(self.recording_max_mb * 1024 * 1024),
            timeout=self.recording_timeout,
            poll=self.recording_poll,
            retry_base=self.recording_retry_base,
        )

    @classmethod
    def from_environ(
        cls, environ: Mapping[str, str] | None = None, data_dir: Path = Path("data")
    ) -> Settings:
        """`DATABASE_URL`, `SECRET_KEY`, `PUBLIC_URL`, `PBX_TIMEOUT`, `PBX_ALLOW_PRIVATE`,
        `REDIS_URL`, `RECORDINGS_DIR`…, with embedded defaults under `data/`."""
        env = os.environ if environ is None else environ
        database_url = env.get("DATABASE_URL") or f"sqlite:///{data_dir / 'crm.sqlite3'}"
        public_url = (env.get("PUBLIC_URL") or "").rstrip("/") or None
        return cls(
            database_url=database_url,
            secret_key=env.get("SECRET_KEY") or _kept_secret(data_dir / "secret_key"),
            public_url=public_url,
            https_only_cookies=bool(public_url and public_url.startswith("https://")),
            pbx_timeout=float(env.get("PBX_TIMEOUT") or 10.0),
            pbx_allow_private=(env.get("PBX_ALLOW_PRIVATE") or "0").strip() == "1",
            webhook_journal_days=int(env.get("WEBHOOK_JOURNAL_DAYS") or 90),
            webhook_journal_max=int(env.get("WEBHOOK_JOURNAL_MAX") or 100_000),
            redis_url=env.get("REDIS_URL") or None,
            sse_ping=float(env.get("SSE_PING") or 15.0),
            log_level=_log_level(env.get("LOG_LEVEL") or "INFO"),
            login_limits=env.get("LOGIN_LIMITS") or "5/minute;20/hour",
            password_checks=int(env.get("PASSWORD_CHECKS") or 2),
            session_idle_hours=float(env.get("SESSION_IDLE_HOURS") or 12.0),
            session_max_days=float(env.get("SESSION_MAX_DAYS") or 30.0),
            session_check=float(env.get("SESSION_CHECK") or 5.0),
            pbx_sync_minutes=_minutes(env.get("PBX_SYNC_MINUTES"), 5.0),
            recordings_dir=Path(env.get("RECORDINGS_DIR") or _beside(database_url, data_dir)),
            recording_max_mb=float(env.get("RECORDING_MAX_MB") or 50.0),
            recording_timeout=float(env.get("RECORDING_TIMEOUT") or 120.0),
        )


def _beside(database_url: str, data_dir: Path) -> Path:
    """`RECORDINGS_DIR`'s default: `recordings` beside the SQLite file, so that two databases
    (a demo's, a copy's) never share files named by project and call ids; `data/recordings`
    for PostgreSQL."""
    if database_url.startswith("sqlite"):
        path = sqlite_path(database_url).split("?", 1)[0]
        if path and path != ":memory:":
            return Path(path).parent / "recordings"
    return data_dir / "recordings"


def _minutes(text: str | None, default: float) -> float:
    """`PBX_SYNC_MINUTES`: unset is the default, 0 turns it off."""
    if text is None or not text.strip():
        return default
    minutes = float(text)
    if not 0 <= minutes <= 24 * 60:
        raise ValueError(f"PBX_SYNC_MINUTES must be 0 to 1440, not {text!r}")
    return minutes


def _log_level(name: str) -> str:
    level = name.strip().upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ValueError(f"LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, not {name!r}")
    return level


def _kept_secret(path: Path) -> str:
    """A secret generated on first start and kept, so sessions survive restarts."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secret)
    return secret
