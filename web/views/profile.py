"""The signed-in employee's own page («Профиль»): their password and their sessions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from core import employees, sessions
from core.errors import NotFound, ValidationError
from core.i18n import gettext as _
from core.passwords import PasswordsBusy
from web.auth import login_required, sign_out
from web.forms import text
from web.templating import render
from web.urls import redirect


async def _page(
    request: Request, errors: Mapping[str, str] | None = None, status: int = 200
) -> Response:
    user, current = request.state.user, request.state.session
    rows = await sessions.list_sessions(
        request.state.db, user["id"], request.state.settings.session_lifetime
    )
    listed: list[dict[str, Any]] = [
        {**s, "device": sessions.device(s["user_agent"]), "current": s["id"] == current["id"]}
        for s in rows
    ]
    listed.sort(key=lambda s: not s["current"])  # this device first
    context = {
        "sessions": listed,
        "idle_hours": f"{request.state.settings.session_idle_hours:g}",
        "errors": errors or {},
        "done": request.query_params,
    }
    return render(request, "profile/index.html", context, status)


@login_required
async def index(request: Request) -> Response:
    """The employee's details, a password change, and where they are signed in."""
    return await _page(request)


@login_required
async def change_password(request: Request) -> Response:
    """A new password, given the current one; the employee's other sessions end."""
    form = await request.form()
    try:
        if text(form, "password") != text(form, "password_confirm"):
            raise ValidationError.single("password_confirm", _("Пароли не совпадают."))
        await employees.change_own_password(
            request.state.db,
            request.state.passwords,
            request.state.user["id"],
            text(form, "current_password"),
            text(form, "password"),
            keep_session=request.state.session["id"],
        )
    except ValidationError as e:
        return await _page(request, e.errors, 422)
    except PasswordsBusy:
        busy = _("Сервер сейчас занят. Попробуйте ещё раз через несколько секунд.")
        return await _page(request, {"current_password": busy}, 503)
    return redirect(request, "profile", query={"password": 1}, fragment="password")


@login_required
async def end_others(request: Request) -> Response:
    """«Выйти на всех устройствах»: every session but this one ends."""
    user = request.state.user
    ended = await sessions.end_all(
        request.state.db, user["project_id"], user["id"], except_id=request.state.session["id"]
    )
    return redirect(request, "profile", query={"ended": ended}, fragment="sessions")


@login_required
async def end_one(request: Request) -> Response:
    """End one of the employee's other sessions, chosen on the list."""
    session_id = request.path_params["session_id"]
    if session_id == request.state.session["id"]:  # the page offers «Выйти» for this one
        await sign_out(request)
        return redirect(request, "login")
    if not await sessions.end_one_of(request.state.db, request.state.user["id"], session_id):
        raise NotFound(_("Сеанс не найден: возможно, он уже завершён."))
    return redirect(request, "profile", query={"ended": 1}, fragment="sessions")
