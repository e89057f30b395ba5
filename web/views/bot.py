"""«Бот» (admins): reactions to messages in a client's dialog, and their latest runs."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from core import reactions
from core.errors import ValidationError
from web.auth import admin_required
from web.forms import text
from web.templating import render
from web.urls import redirect


async def _page(request: Request, status: int = 200, **extra: Any) -> Response:
    project_id = request.state.user["project_id"]
    context = {
        "reactions": await reactions.list_reactions(request.state.db, project_id),
        "jobs": await reactions.recent_jobs(request.state.db, project_id),
        "saved": request.query_params.get("saved"),
        "form": {},
        "errors": {},
        **extra,
    }
    return render(request, "bot/index.html", context, status)


@admin_required
async def index(request: Request) -> Response:
    """The reactions and what they did lately; POST adds one."""
    if request.method == "POST":
        return await _save(request)
    return await _page(request)


@admin_required
async def reaction(request: Request) -> Response:
    """The form filled with one reaction; POST saves it."""
    if request.method == "POST":
        return await _save(request)
    found = await reactions.get_reaction(
        request.state.db, request.state.user["project_id"], request.path_params["reaction_id"]
    )
    return await _page(request, form=dict(found))


async def _save(request: Request) -> Response:
    form = await request.form()
    reaction_id = request.path_params.get("reaction_id")
    values = {"pattern": text(form, "pattern"), "actions": text(form, "actions")}
    try:
        await reactions.save_reaction(
            request.state.db,
            request.state.user["project_id"],
            values["pattern"],
            values["actions"],
            is_active=form.get("is_active", "on") == "on",
            reaction_id=reaction_id,
        )
    except ValidationError as e:
        return await _page(request, 422, form={**values, "id": reaction_id}, errors=e.errors)
    return redirect(request, "bot", query={"saved": 1})


@admin_required
async def delete(request: Request) -> Response:
    """Remove a reaction."""
    await reactions.delete_reaction(
        request.state.db, request.state.user["project_id"], request.path_params["reaction_id"]
    )
    return redirect(request, "bot", query={"saved": "deleted"})
