"""Who is signed in: the session cookie, and the guards that views put in front of themselves.

The cookie (Starlette's signed session) holds only the token of a server-side session
(`core.sessions`); a token that is unknown, ended or expired is no one signed in."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from core import employees, sessions
from core.errors import PermissionDenied
from core.i18n import gettext as _
from core.telephony import missed_queue
from web.htmx import wants_fragment
from web.urls import path_for

View = Callable[[Request], Awaitable[Response]]
SESSION_KEY = "session"


class NotAuthenticated(Exception):
    """No one is signed in; `web/errors.py` answers with a redirect to the login page."""

    def __init__(self, login_url: str) -> None:
        super().__init__(login_url)
        self.login_url = login_url


async def sign_in(request: Request, user: Mapping[str, Any]) -> None:
    """A new session for `user`, in a new cookie (never one the browser had before)."""
    token, _id = await sessions.start(
        request.state.db,
        user["id"],
        user["project_id"],
        address=request.client.host if request.client else "",  # uvicorn read proxy headers
        user_agent=request.headers.get("user-agent", ""),
    )
    request.session.clear()
    request.session[SESSION_KEY] = token


async def sign_out(request: Request) -> None:
    """End this browser's session, on the server too: a saved copy of the cookie is useless."""
    session = await _current_session(request)
    if session is not None:
        await sessions.end(request.state.db, session["id"])
    request.session.clear()


async def _current_session(request: Request) -> sessions.Session | None:
    token = request.session.get(SESSION_KEY)
    if not isinstance(token, str):
        return None
    lifetime = request.state.settings.session_lifetime
    return await sessions.resolve(request.state.db, token, lifetime)


async def _load_user(request: Request) -> Mapping[str, Any]:
    session = await _current_session(request)
    user = None
    if session is not None:
        user = await employees.active_user(request.state.db, session["user_id"])
    if user is None:
        request.session.clear()
        next_url = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.method != "GET":
            next_url = path_for(request, "home")
        raise NotAuthenticated(path_for(request, "login", query={"next": next_url}))
    request.state.user = user
    request.state.session = session
    if request.method == "GET" and not wants_fragment(request):  # a page: its nav's count
        request.state.missed_open = await missed_queue.open_count(
            request.state.db, user["project_id"]
        )
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
