"""First-run setup, signing in and out, and the language switch."""

from __future__ import annotations

import math

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from core import employees
from core.errors import InvalidCredentials, ValidationError
from core.i18n import LANGUAGES
from core.i18n import gettext as _
from core.passwords import PasswordsBusy
from web.auth import sign_in, sign_out
from web.forms import safe_next, text
from web.i18n import COOKIE
from web.templating import render
from web.throttle import LoginThrottle
from web.urls import path_for, redirect


async def home(request: Request) -> Response:
    """The front door: setup on a fresh install, otherwise the client list."""
    if await employees.setup_needed(request.state.db):
        return redirect(request, "setup")
    return redirect(request, "clients")


async def setup(request: Request) -> Response:
    """Create the project and its first admin; only while the install has no employee."""
    if not await employees.setup_needed(request.state.db):
        return redirect(request, "login")
    if request.method == "GET":
        return render(request, "auth/setup.html", {"form": {}, "errors": {}})
    form = await request.form()
    data = employees.EmployeeInput(
        name=text(form, "name"), email=text(form, "email"), password=text(form, "password")
    )
    try:
        if text(form, "password") != text(form, "password_confirm"):
            raise ValidationError.single("password_confirm", _("Пароли не совпадают."))
        user = await employees.first_setup(
            request.state.db,
            request.state.passwords,
            text(form, "project"),
            data,
            text(form, "setup_code"),
        )
    except ValidationError as e:
        return render(request, "auth/setup.html", {"form": form, "errors": e.errors}, 422)
    await sign_in(request, user)
    return redirect(request, "settings")


async def login(request: Request) -> Response:
    """Sign in with email and password."""
    next_url = safe_next(request.query_params.get("next"), path_for(request, "clients"))
    if request.method == "GET":
        if await employees.setup_needed(request.state.db):
            return redirect(request, "setup")
        return render(request, "auth/login.html", {"email": "", "next": next_url})
    form = await request.form()
    email = text(form, "email")
    context = {"email": email, "next": next_url}
    throttle: LoginThrottle = request.state.throttle
    address = request.client.host if request.client else ""  # uvicorn has read proxy headers
    wait = await throttle.wait(email, address)
    if wait:
        context["error"] = _("Слишком много неудачных попыток входа. %(when)s") % {
            "when": _try_again_in(wait)
        }
        response = render(request, "auth/login.html", context, 429)
        response.headers["Retry-After"] = str(wait)
        return response
    try:
        user = await employees.authenticate(
            request.state.db,
            request.state.passwords,
            email,
            text(form, "password"),
            address=address,  # journaled in «Журнал действий»
        )
    except PasswordsBusy:
        context["error"] = _("Сервер сейчас занят. Попробуйте ещё раз через несколько секунд.")
        response = render(request, "auth/login.html", context, 503)
        response.headers["Retry-After"] = "5"
        return response
    except InvalidCredentials as e:
        await throttle.failed(email, address)
        return render(request, "auth/login.html", {**context, "error": e.message}, 401)
    await throttle.succeeded(email)
    await sign_in(request, user)
    return RedirectResponse(safe_next(text(form, "next"), path_for(request, "clients")), 303)


def _try_again_in(seconds: int) -> str:
    if seconds < 120:
        return _("Попробуйте ещё раз через %(seconds)s с.") % {"seconds": seconds}
    return _("Попробуйте ещё раз через %(minutes)s мин.") % {"minutes": math.ceil(seconds / 60)}


async def logout(request: Request) -> Response:
    """End the session, on the server too."""
    await sign_out(request)
    return redirect(request, "login")


async def language(request: Request) -> Response:
    """Remember the chosen interface language and go back where the person was."""
    form = await request.form()
    response = RedirectResponse(safe_next(text(form, "next"), path_for(request, "home")), 303)
    chosen = text(form, "language")
    if chosen in LANGUAGES:
        response.set_cookie(COOKIE, chosen, max_age=365 * 24 * 3600, samesite="lax")
    return response
