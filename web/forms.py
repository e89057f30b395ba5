"""Reading form fields the same way in every view."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request

from web.ids import parse_id


def text(form: FormData, name: str) -> str:
    """A form field as text; NUL characters (which no database text column takes) dropped."""
    value = form.get(name)
    return value.replace("\x00", "") if isinstance(value, str) else ""


def optional_int(form: FormData, name: str) -> int | None:
    """An id from a form (`web/ids.py`), or None."""
    return parse_id(text(form, name))


def query_int(request: Request, name: str) -> int | None:
    """An id from the query string (`web/ids.py`), or None."""
    return parse_id(request.query_params.get(name, ""))


def safe_next(url: str | None, default: str) -> str:
    """Only local paths: a login link must not send people to another site."""
    if url and url.startswith("/") and not url.startswith("//") and "\\" not in url:
        return url
    return default
