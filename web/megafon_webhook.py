"""`/megafon_webhook`: the single URL the PBX sends every command to (PROTOCOL.md §1).

The PBX posts a form; its vendor also documents GET for `history`, and peers read GET and POST
alike (§6.1): the fields are the query string's and the body's, the body's winning."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from core import projects
from core.telephony import inbox
from core.telephony.protocol import InvalidWebhook
from web.payload import MAX_DEPTH, Unreadable, UnreadableBody, body_fields

# In the PBX's language, as the rest of the protocol's errors (core/telephony/protocol.py)
UNREADABLE = {
    Unreadable.NOT_JSON: "the body is not valid JSON",
    Unreadable.NOT_AN_OBJECT: "the JSON body must be an object",
    Unreadable.TOO_DEEP: f"the JSON body is nested deeper than {MAX_DEPTH} levels",
    Unreadable.NOT_A_FORM: "the body is not a valid multipart form without files",
    Unreadable.UNKNOWN_CHARSET: "the charset named in Content-Type is unknown",
}


async def megafon_webhook(request: Request) -> Response:
    """Authenticate by `crm_token`, store, apply, and answer only after the commit."""
    fields = await _fields(request)
    project = await projects.project_by_api_key(request.state.db, fields.get("crm_token"))
    if project is None:
        request.state.wrong_tokens.note()  # counted for «Телефония», not stored
        return JSONResponse({"error": "Invalid token"}, status_code=401)
    receipt = await inbox.receive(request.state.db, project["id"], fields)
    status = 500 if receipt.result == inbox.DeliveryResult.ERROR else 200
    return JSONResponse(receipt.answer, status_code=status)


async def _fields(request: Request) -> dict[str, str]:
    """Every field as text, exactly as sent (a NUL is the protocol's to refuse), from the query
    string and the body; a JSON value that is not a string is kept as its JSON, a null as not
    sent."""
    try:
        fields = {**request.query_params, **await body_fields(request)}
    except UnreadableBody as e:
        raise InvalidWebhook({"body": UNREADABLE[e.reason]}) from e
    return {k: v if isinstance(v, str) else _json(v) for k, v in fields.items() if v is not None}


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
