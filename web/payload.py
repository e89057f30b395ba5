"""What machines post, read one way: form-urlencoded, multipart or a JSON object, as text.

The PBX posts forms (PROTOCOL.md §1); some of its documentation prints JSON, and programs
calling the API send either. Every value comes back as text without NUL characters (no
database text column takes them); a JSON value that is not a string is kept as its JSON."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

from starlette.requests import Request

from core.errors import ValidationError
from core.i18n import gettext as _

MAX_BODY = 64 * 1024  # a webhook or an API call is a few hundred bytes


async def text_fields(
    request: Request, invalid: type[ValidationError] = ValidationError
) -> dict[str, str]:
    """The body's fields; `invalid` is raised, naming the field `body`, when it is unreadable."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        form = await request.form()
        return {_text(k): _text(v) for k, v in form.items() if isinstance(v, str)}
    body = await request.body()
    if len(body) > MAX_BODY:
        message = _("Тело запроса больше {limit} байт.").format(limit=MAX_BODY)
        raise invalid.single("body", message)
    text = body.decode("utf-8", errors="replace")
    if content_type != "application/json" and not text.lstrip().startswith("{"):
        return {_text(k): _text(v) for k, v in parse_qsl(text, keep_blank_values=True)}
    try:
        data = json.loads(text or "{}")
    except ValueError as e:
        raise invalid.single("body", _("Тело запроса — не JSON.")) from e
    if not isinstance(data, dict):
        raise invalid.single("body", _("Ожидался JSON-объект."))
    return {
        _text(str(k)): _text(v if isinstance(v, str) else json.dumps(v, ensure_ascii=False))
        for k, v in data.items()
        if v is not None
    }


def _text(value: str) -> str:
    return value.replace("\x00", "") if "\x00" in value else value
