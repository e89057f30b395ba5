"""«Пропущенные» (every employee): clients waiting for a callback, longest first, and the
recently closed items; admins set the waiting thresholds here."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from core import clock, events
from core.errors import ValidationError
from core.telephony import missed_calls, missed_queue
from web.actor import actor
from web.auth import admin_required, login_required
from web.forms import query_int
from web.htmx import wants_fragment
from web.templating import render
from web.urls import redirect


async def _queue_context(request: Request, **extra: Any) -> dict[str, Any]:
    db, project_id = request.state.db, request.state.user["project_id"]
    limits = await missed_queue.thresholds(db, project_id)
    now = clock.now()
    items = [
        {
            **item,
            "tone": missed_queue.waiting_tone(item["opened_at"], limits, now),
            "waiting": missed_queue.waiting_for(item["opened_at"], now),
        }
        for item in await missed_queue.queue(db, project_id)
    ]
    return {
        "items": items,
        "limits": limits,
        "reasons": missed_calls.reason_choices(),
        "errors": {},
        "typed": {},
        **extra,
    }


async def _queue(request: Request, status: int = 200, **extra: Any) -> Response:
    context = await _queue_context(request, **extra)
    if wants_fragment(request):
        return render(request, "missed/_queue.html", context, status)
    db = request.state.db
    context["live_cursor"] = await events.latest_id(db)
    context["saved"] = request.query_params.get("saved")
    return render(request, "missed/queue.html", context, status)


@login_required
async def queue(request: Request) -> Response:
    """The open items, longest waiting first; the list re-reads itself on live updates."""
    return await _queue(request)


@login_required
async def closed(request: Request) -> Response:
    """Recently closed items: who closed them, how, and how fast the client was reached."""
    db, project_id = request.state.db, request.state.user["project_id"]
    before = query_int(request, "before")
    rows, next_before = await missed_queue.closed(db, project_id, before=before)
    context = {
        "rows": rows,
        "next_before": next_before,
        "before": before,
        "close_kind_label": missed_calls.close_kind_label,
        "reason_label": missed_calls.reason_label,
        "callback_label": missed_queue.callback_time,
    }
    return render(request, "missed/closed.html", context)


@login_required
async def close(request: Request) -> Response:
    """Close an item by hand with a reason; a wrong form keeps what was typed."""
    form = await request.form()
    item_id = request.path_params["item_id"]
    reason, note = str(form.get("reason", "")), str(form.get("note", ""))
    user = request.state.user
    try:
        await missed_calls.close_by_hand(
            request.state.db, user["project_id"], item_id, user["id"], reason, note
        )
    except ValidationError as e:
        typed = {"reason": reason, "note": note}
        return await _queue(request, 422, errors={item_id: e.errors}, typed={item_id: typed})
    if wants_fragment(request):
        return await _queue(request)
    return redirect(request, "missed")


@login_required
async def reopen(request: Request) -> Response:
    """Put a closed item back into the queue."""
    await missed_calls.reopen(
        request.state.db, request.state.user["project_id"], request.path_params["item_id"]
    )
    return redirect(request, "missed")


@admin_required
async def thresholds(request: Request) -> Response:
    """The admin's waiting thresholds (minutes), journaled."""
    form = await request.form()
    warn, alert = str(form.get("warn", "")), str(form.get("alert", ""))
    try:
        await missed_queue.save_thresholds(
            request.state.db, request.state.user["project_id"], actor(request), warn, alert
        )
    except ValidationError as e:
        typed = {"warn": warn, "alert": alert}
        return await _queue(request, 422, threshold_errors=e.errors, threshold_typed=typed)
    return redirect(request, "missed", query={"saved": "1"}, fragment="missed-thresholds")
