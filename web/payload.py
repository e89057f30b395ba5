"""What machines post, read one way: form-urlencoded, multipart or a JSON object.

The PBX posts forms (PROTOCOL.md §1); some of its documentation prints JSON, and programs
calling the API send either. `body_fields` parses; each caller turns the values into text as
its protocol says (the webhook keeps a JSON value as JSON, the API as Salebot's does).

A form's text is read in the charset its `Content-Type` names (`charset=windows-1251`: a PBX
may send its Cyrillic so), UTF-8 when it names none; a charset nobody knows is refused.

Whatever the bytes, the result is text a database takes: a body is cut off at `MAX_BODY`
before it is read (`web/body_limits.py`), read once and whole (so no parser sees it in tiny
pieces), and a JSON string's lone surrogate (`"\\udfff"`, which UTF-8 cannot hold) becomes
U+FFFD."""

from __future__ import annotations

import codecs
import json
import re
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qsl

from starlette.exceptions import HTTPException
from starlette.requests import Request

MAX_BODY = 64 * 1024  # a webhook or an API call is a few hundred bytes (web/routes.py)
MAX_DEPTH = 32  # nesting of a JSON body: a webhook or an API call is flat
MAX_FIELDS = 1000  # fields of a multipart body (Starlette's default, said out loud)

_SURROGATE = re.compile("[\ud800-\udfff]")


class Unreadable(StrEnum):
    """Why a body could not be read."""

    NOT_JSON = "not_json"
    NOT_AN_OBJECT = "not_an_object"
    TOO_DEEP = "too_deep"
    NOT_A_FORM = "not_a_form"
    UNKNOWN_CHARSET = "unknown_charset"


class UnreadableBody(Exception):
    """The body is not a form or a JSON object; the caller answers in its protocol's words."""

    def __init__(self, reason: Unreadable) -> None:
        super().__init__(reason.value)
        self.reason = reason


async def body_fields(request: Request) -> dict[str, Any]:
    """The body's fields: text from a form, any JSON value from a JSON object."""
    content_type, *params = request.headers.get("content-type", "").lower().split(";")
    content_type = content_type.strip()
    charset = _charset(params)
    body = await request.body()  # whole, once: the multipart parser below reads it from memory
    if content_type == "multipart/form-data":
        try:
            async with request.form(max_files=0, max_fields=MAX_FIELDS) as form:
                return {k: v for k, v in form.items() if isinstance(v, str)}
        except HTTPException as e:  # Starlette's answer to a broken or over-limit multipart body
            raise UnreadableBody(Unreadable.NOT_A_FORM) from e
    text = body.decode(charset, errors="replace").removeprefix("\ufeff")
    if content_type != "application/json" and not text.lstrip().startswith("{"):
        return dict(parse_qsl(text, keep_blank_values=True, encoding=charset, errors="replace"))
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as e:  # RecursionError: thousands of `[`
        raise UnreadableBody(Unreadable.NOT_JSON) from e
    if not isinstance(data, dict):
        raise UnreadableBody(Unreadable.NOT_AN_OBJECT)
    return {_text(str(k)): _clean(v, 1) for k, v in data.items()}


def _charset(params: list[str]) -> str:
    """The codec of the `charset` parameter (`windows-1251`, `cp1251`, `"utf-8"`), UTF-8 when
    none is named."""
    for param in params:
        name, _eq, value = param.partition("=")
        if name.strip() == "charset":
            try:
                codec = codecs.lookup(value.strip().strip('"')).name
                b"x".decode(codec, errors="replace")  # `base64`, `rot13`: no charsets
            except LookupError:
                raise UnreadableBody(Unreadable.UNKNOWN_CHARSET) from None
            return codec
    return "utf-8"


def _clean(value: Any, depth: int) -> Any:
    """A JSON value with its strings made storable (`_text`), refused when nested deeper
    than `MAX_DEPTH`, so that turning it back into text cannot overflow the stack."""
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, list | dict) and depth >= MAX_DEPTH:
        raise UnreadableBody(Unreadable.TOO_DEEP)
    if isinstance(value, list):
        return [_clean(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {_text(k): _clean(v, depth + 1) for k, v in value.items()}
    return value


def _text(value: str) -> str:
    """Lone surrogates, which JSON can escape but UTF-8 (so no database) cannot hold, as U+FFFD."""
    return _SURROGATE.sub("\ufffd", value)
