"""Logging for the server: every line with its time, level and logger, at `LOG_LEVEL`, and
never a secret — API keys in `/api/<key>/…` paths and tokens in bodies or headers are masked
in every line, tracebacks included, whichever library wrote it."""

from __future__ import annotations

import logging
import re
from typing import Any

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_API_KEY_IN_PATH = re.compile(r"(/api/)[^/\s?\"']+")
_TOKEN_VALUE = re.compile(
    r"(?i)\b(crm_token|api_token|api_key|token|x-api-key|secret_key|password(?:_hash)?)"
    r"(\\?\"?'?\s*[:=]\s*\\?\"?'?)([^&\s\"'\\,;}]+)"  # also inside escaped JSON
)


def redact(text: str) -> str:
    """The text with every API key and token replaced by `***`."""
    text = _API_KEY_IN_PATH.sub(r"\1***", text)
    return _TOKEN_VALUE.sub(r"\1\2***", text)


class RedactingFormatter(logging.Formatter):
    """The standard formatter, then `redact` over the whole line (and its traceback)."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def config(level: str = "INFO") -> dict[str, Any]:
    """A `logging.config.dictConfig` for the app, uvicorn and its access log alike."""
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"line": {"()": RedactingFormatter, "format": FORMAT}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "line",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            # uvicorn's own loggers would print through handlers of their own: route them here
            "uvicorn": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.error": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.access": {"handlers": [], "level": level, "propagate": True},
            # a line per request to the PBX only when debugging (the journal shows the calls)
            "httpx": {"level": level if level == "DEBUG" else "WARNING"},
            "httpcore": {"level": level if level == "DEBUG" else "WARNING"},
        },
    }
