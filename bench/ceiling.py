"""The ceiling for the webhook path: a bare Starlette endpoint that reads the same form body
and checks the same token, and nothing else. Served by uvicorn with the app's own options, it
is what this machine can do today at best, so the app's numbers are quoted as a ratio to it.

    CEILING_TOKEN=… python -m uvicorn ceiling:app --app-dir bench --loop asyncio --no-access-log
"""

from __future__ import annotations

import os
import secrets
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

TOKEN = os.environ.get("CEILING_TOKEN", "")


async def megafon_webhook(request: Request) -> Response:
    fields = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
    if not secrets.compare_digest(fields.get("crm_token", ""), TOKEN):
        return JSONResponse({"error": "Invalid token"}, status_code=401)
    return JSONResponse({"status": "ok"})


app = Starlette(routes=[Route("/megafon_webhook", megafon_webhook, methods=["POST"])])
