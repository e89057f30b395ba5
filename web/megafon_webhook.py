"""`POST /megafon_webhook`: the single URL the PBX posts every command to (PROTOCOL.md §1)."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from core import projects
from core.telephony import inbox
from core.telephony.protocol import InvalidWebhook
from web.errors import http_error, invalid_webhook, server_error

MAX_BODY = 64 * 1024


async def _fields(request: Request) -> dict[str, str]:
    """Form-urlencoded as the PBX sends it; JSON (some docs print it so) and multipart too."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        form = await request.form()
        return {k: v for k, v in form.items() if isinstance(v, str)}
    body = await request.body()
    if len(body) > MAX_BODY:
        raise InvalidWebhook({"body": f"the body is larger than {MAX_BODY} bytes"})
    text = body.decode("utf-8", errors="replace")
    if content_type == "application/json" or text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except ValueError as e:
            raise InvalidWebhook({"body": "the body is not valid JSON"}) from e
        if not isinstance(data, dict):
            raise InvalidWebhook({"body": "the JSON body must be an object"})
        return {
            str(k): v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
            for k, v in data.items()
            if v is not None
        }
    return dict(parse_qsl(text, keep_blank_values=True))


async def megafon_webhook(request: Request) -> Response:
    """Authenticate by `crm_token`, store, apply, and answer only after the commit."""
    fields = await _fields(request)
    project = await projects.project_by_api_key(request.state.db, fields.get("crm_token"))
    if project is None:
        return JSONResponse({"error": "Invalid token"}, status_code=401)
    receipt = await inbox.receive(request.state.db, project["id"], fields)
    status = 500 if receipt.result == inbox.ERROR else 200
    return JSONResponse(receipt.answer, status_code=status)


class PbxFastPath:
    """Serves the PBX's POSTs ahead of the browser middleware (session, CSRF, language):
    a machine with a token needs none of it, and the PBX sends thousands a second.
    Errors go through the same handlers as everywhere else (`web/errors.py`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"] == "/megafon_webhook"
        ):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await megafon_webhook(request)
        except InvalidWebhook as e:
            response = await invalid_webhook(request, e)
        except HTTPException as e:  # e.g. a multipart body that cannot be parsed
            response = await http_error(request, e)
        except Exception as e:
            response = await server_error(request, e)
        await response(scope, receive, send)
