"""What machines post, read one way: form-urlencoded, multipart or a JSON object.

The PBX posts forms (PROTOCOL.md §1); some of its documentation prints JSON, and programs
calling the API send either. `body_fields` parses; each caller turns the values into text as
its protocol says (the webhook keeps a JSON value as JSON, the API as Salebot's does)."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request

MAX_BODY = 64 * 1024  # a webhook or an API call is a few hundred bytes


class Unreadable(StrEnum):
    """Why a body could not be read."""

    TOO_LARGE = "too_large"
    NOT_JSON = "not_json"
    NOT_AN_OBJECT = "not_an_object"


class UnreadableBody(Exception):
    """The body is not a form or a JSON object; the caller answers in its protocol's words."""

    def __init__(self, reason: Unreadable) -> None:
        super().__init__(reason.value)
        self.reason = reason


async def body_fields(request: Request) -> dict[str, Any]:
    """The body's fields: text from a form, any JSON value from a JSON object."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        form = await request.form()
        return {k: v for k, v in form.items() if isinstance(v, str)}
    body = await request.body()
    if len(body) > MAX_BODY:
        raise UnreadableBody(Unreadable.TOO_LARGE)
    text = body.decode("utf-8-sig", errors="replace")
    if content_type != "application/json" and not text.lstrip().startswith("{"):
        return dict(parse_qsl(text, keep_blank_values=True))
    try:
        data = json.loads(text)
    except ValueError as e:
        raise UnreadableBody(Unreadable.NOT_JSON) from e
    if not isinstance(data, dict):
        raise UnreadableBody(Unreadable.NOT_AN_OBJECT)
    return {str(k): v for k, v in data.items()}
