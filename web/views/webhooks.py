"""«Журнал вебхуков» (admins): what the PBX sent, what became of it, and re-running failures."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from core.telephony import inbox
from web.auth import admin_required
from web.forms import query_int
from web.templating import render
from web.urls import redirect


@admin_required
async def journal(request: Request) -> Response:
    """Recent deliveries, newest first, filterable by result."""
    result = request.query_params.get("result") or None
    entries, next_before = await inbox.journal(
        request.state.db,
        request.state.user["project_id"],
        result=result,
        before=query_int(request, "before"),
    )
    context = {
        "entries": entries,
        "next_before": next_before,
        "result": result,
        "results": tuple(inbox.DeliveryResult),
        "rerun": request.query_params.get("rerun"),
    }
    return render(request, "webhooks/journal.html", context)


@admin_required
async def rerun(request: Request) -> Response:
    """Apply a failed delivery again."""
    receipt = await inbox.rerun(
        request.state.db, request.state.user["project_id"], request.path_params["delivery_id"]
    )
    return redirect(
        request,
        "webhooks",
        query={"rerun": receipt.result},
        fragment=f"delivery-{receipt.delivery_id}",
    )
