"""Project settings ("Настройки"): the API access key and the connected messengers."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from core import projects
from core.errors import ValidationError
from web.actor import actor
from web.auth import admin_required
from web.templating import render
from web.urls import redirect


async def _page(request: Request, status: int = 200, **extra: object) -> Response:
    project = await projects.get_project(request.state.db, request.state.user["project_id"])
    context = {
        "project": project,
        "connected": projects.connected_messengers(project),
        "saved": request.query_params.get("saved"),
        **extra,
    }
    return render(request, "settings/index.html", context, status)


@admin_required
async def index(request: Request) -> Response:
    """The settings page."""
    return await _page(request)


@admin_required
async def generate_key(request: Request) -> Response:
    """Issue the project's first API key ("Сгенерировать")."""
    project = await projects.get_project(request.state.db, request.state.user["project_id"])
    if not project["api_key"]:
        await projects.generate_api_key(request.state.db, project["id"], who=actor(request))
    return redirect(request, "settings", query={"saved": "key"}, fragment="api-key")


@admin_required
async def regenerate_key(request: Request) -> Response:
    """Confirm, then replace the API key; the old one stops working at once."""
    if request.method == "GET":
        return render(request, "settings/regenerate.html")
    await projects.generate_api_key(
        request.state.db, request.state.user["project_id"], who=actor(request)
    )
    return redirect(request, "settings", query={"saved": "key"}, fragment="api-key")


@admin_required
async def messengers(request: Request) -> Response:
    """Mark which messengers are connected to the project."""
    form = await request.form()
    try:
        await projects.set_messengers(
            request.state.db,
            request.state.user["project_id"],
            [v for v in form.getlist("messengers") if isinstance(v, str)],
        )
    except ValidationError as e:
        return await _page(request, 422, errors=e.errors)
    return redirect(request, "settings", query={"saved": "messengers"}, fragment="messengers")
