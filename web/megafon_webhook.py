"""`POST /megafon_webhook`: the single URL the PBX posts every command to (PROTOCOL.md §1)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from core import projects
from core.telephony import inbox
from core.telephony.protocol import InvalidWebhook
from web.payload import text_fields


async def megafon_webhook(request: Request) -> Response:
    """Authenticate by `crm_token`, store, apply, and answer only after the commit."""
    fields = await text_fields(request, invalid=InvalidWebhook)
    project = await projects.project_by_api_key(request.state.db, fields.get("crm_token"))
    if project is None:
        return JSONResponse({"error": "Invalid token"}, status_code=401)
    receipt = await inbox.receive(request.state.db, project["id"], fields)
    status = 500 if receipt.result == inbox.DeliveryResult.ERROR else 200
    return JSONResponse(receipt.answer, status_code=status)
