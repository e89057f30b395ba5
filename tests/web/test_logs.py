"""The server's log: time, level and logger on every line, `LOG_LEVEL` obeyed, no secrets."""

from __future__ import annotations

import io
import logging
import logging.config
import re

import httpx
import pytest

from tests.support.servers import AppProcess
from web import logs
from web.config import Settings

LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) \S+: "
)


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ('127.0.0.1:5 - "POST /api/k3y-Secret_1/callback HTTP/1.1" 200', "k3y-Secret_1"),
        ("GET /api/k3y-Secret_1/megafon_call?user=1", "k3y-Secret_1"),
        ("cmd=contact&crm_token=tok_en-9&phone=7916", "tok_en-9"),
        ('{"crm_token": "tok_en-9", "cmd": "event"}', "tok_en-9"),
        ("X-API-KEY: tok_en-9", "tok_en-9"),
        ("cmd=makeCall&token=tok_en-9", "tok_en-9"),
    ],
)
def test_secrets_are_masked(text, secret):
    masked = logs.redact(text)
    assert secret not in masked and "***" in masked


def test_a_traceback_is_masked_too():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.RedactingFormatter(logs.FORMAT))
    logger = logging.getLogger("crm.test-redaction")
    logger.addHandler(handler)
    try:
        try:
            raise ValueError("bad crm_token=tok_en-9")
        except ValueError:
            logger.exception("failed on POST /api/k3y-Secret_1/callback")
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert "Traceback" in text and "tok_en-9" not in text and "k3y-Secret_1" not in text
    assert LINE.match(text)


def test_log_level_comes_from_the_environment(tmp_path):
    assert Settings.from_environ({"LOG_LEVEL": "warning"}, tmp_path).log_level == "WARNING"
    with pytest.raises(ValueError, match="LOG_LEVEL"):
        Settings.from_environ({"LOG_LEVEL": "loud"}, tmp_path)


def test_the_servers_log_lines_carry_time_level_logger_and_no_secrets(tmp_path):
    database_url = f"sqlite:///{tmp_path}/crm.sqlite3"
    with AppProcess(database_url, None, "--access-log", LOG_LEVEL="INFO") as app:
        httpx.post(app.url + "/api/secret-api-key-123/callback", timeout=10)
        httpx.post(
            app.url + "/megafon_webhook",
            data={"cmd": "contact", "crm_token": "secret-token-456", "phone": "79161234567"},
            timeout=10,
        )
    log_lines = [line for line in app.log.splitlines() if LINE.match(line)]
    assert any(
        " INFO uvicorn.access: " in line and "/api/***/callback" in line for line in log_lines
    )
    assert "secret-api-key-123" not in app.log and "secret-token-456" not in app.log
    # What `serve` prints for a person, not log lines (on a fresh install: the setup code).
    printed = {"CRM работает", "Код установки:", "  Введите его на странице"}
    for line in app.log.splitlines():
        assert LINE.match(line) or any(line.startswith(p) for p in printed) or not line.strip()


@pytest.mark.parametrize(
    "text", ['{\\"crm_token\\": \\"tok_en-9\\"}', "password_hash=tok_en-9", "token: tok_en-9"]
)
def test_secrets_inside_escaped_json_and_hashes_are_masked(text):
    assert "tok_en-9" not in logs.redact(text)
