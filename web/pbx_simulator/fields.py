"""A request's fields as the PBX reads them: the query string plus a form or JSON body, as text."""

from __future__ import annotations

import json

from starlette.requests import Request

Fields = dict[str, str]


async def read_fields(request: Request) -> Fields:
    """Query string plus a form or JSON body, as text; what the real PBX accepts."""
    fields: Fields = dict(request.query_params)
    if request.method != "POST":
        return fields
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        try:
            data = json.loads(await request.body())
        except ValueError:
            data = None
        if isinstance(data, dict):
            fields |= {
                str(k): str(v)
                for k, v in data.items()
                if isinstance(v, (str, int, float)) and not isinstance(v, bool)
            }
        return fields
    async with request.form() as form:
        fields |= {k: v for k, v in form.items() if isinstance(v, str)}
    return fields
