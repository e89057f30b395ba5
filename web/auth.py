"""Who is signed in: the session cookie, and the guards that views put in front of themselves."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from core import employees
from core.errors import PermissionDenied
from core.i18n import gettext as _
from web.urls import path_for

View = Callable[[Request], Awaitable[Response]]
SESSION_KEY = "user_id"


class NotAuthenticated(Exception):
    """No one is signed in; `web/errors.py` answers with a redirect to the login page."""

    def __init__(self, login_url: str) -> None:
        super().__init__(login_url)
        self.login_url = login_url


def sign_in(request: Request, user: Mapping[str, Any]) -> None:
    request.session.clear()
    request.session[SESSION_KEY] = user["id"]


def sign_out(request: Request) -> None:
    request.session.clear()


async def _load_user(request: Request) -> Mapping[str, Any]:
    user_id = request.session.get(SESSION_KEY)
    user = await employees.active_user(request.state.db, user_id) if user_id else None
    if user is None:
        request.session.clear()
        next_url = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.method != "GET":
            next_url = path_for(request, "home")
        raise NotAuthenticated(path_for(request, "login", query={"next": next_url}))
    request.state.user = user
    return user


def login_required(view: View) -> View:
    """Only signed-in, active employees get through; `request.state.user` is theirs."""

    @functools.wraps(view)
    async def guarded(request: Request) -> Response:
        await _load_user(request)
        return await view(request)

    return guarded


def admin_required(view: View) -> View:
    """Only admins get through; managers get 403."""

    @functools.wraps(view)
    async def guarded(request: Request) -> Response:
        user = await _load_user(request)
        if user["role"] != employees.Role.ADMIN:
            raise PermissionDenied(_("Этот раздел доступен только администраторам."))
        return await view(request)

    return guarded
