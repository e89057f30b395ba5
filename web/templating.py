"""Jinja2 with gettext, the CSRF token, `url_for` and the domain's labels in every template."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, Undefined, pass_context, select_autoescape
from jinja2.runtime import Context
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from core import clients, clock, dialogs, employees, phones, projects, reactions
from core.i18n import LANGUAGES, current_language, gettext, ngettext, pgettext
from core.telephony import calls, inbox
from core.telephony.protocol import CallStatus
from web.urls import path_for, with_query

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
MOSCOW = timezone(timedelta(hours=3))  # the teams we serve read times in Moscow time


def _format_time(
    value: datetime | None, with_date: bool | None = True, seconds: bool = False
) -> str:
    """Moscow time; `with_date=None` gives the date only when it is not today."""
    if value is None:
        return ""
    local = value.astimezone(MOSCOW)
    if with_date is None:
        with_date = local.date() != clock.now().astimezone(MOSCOW).date()
    hours = "%H:%M:%S" if seconds else "%H:%M"
    return local.strftime(f"%d.%m.%Y {hours}" if with_date else hours)


# How each outcome looks, wherever a call is shown (the card's calls, the handset's status):
# answered is green, missed amber, every other end red; a call still going on is blue.
CALL_TONES: dict[str, str] = {
    CallStatus.SUCCESS: "success",
    CallStatus.MISSED: "missed",
    CallStatus.CANCEL: "failed",
    CallStatus.BUSY: "failed",
    CallStatus.NOT_AVAILABLE: "failed",
    CallStatus.NOT_ALLOWED: "failed",
    CallStatus.NOT_FOUND: "failed",
}


def call_tone(call: Mapping[str, Any] | None) -> str:
    """`tone-{{ call | call_tone }}`: the CSS class of a call's outcome, "live" until it ends."""
    return CALL_TONES.get((call or {}).get("status") or "", "live")


def _duration(seconds: int | None) -> str:
    if seconds is None:
        return ""
    return f"{seconds // 60}:{seconds % 60:02d}"


@pass_context
def _url_for(context: Context, name: str, /, **path_params: Any) -> str:
    """`url_for` in templates: the path of a named route (see `web/urls.py` for why a path).
    None parameters are left out, so one form can serve `client_edit` and `client_new`."""
    params = {k: v for k, v in path_params.items() if v is not None}
    return path_for(context["request"], name, **params)


@pass_context
def _form_for(
    context: Context,
    route: str,
    /,
    *,
    caller: Callable[[], str],
    method: str = "post",
    query: Mapping[str, Any] | None = None,
    hx: bool = False,
    novalidate: bool = False,
    attrs: Mapping[str, Any] | None = None,
    **path_params: Any,
) -> Markup:
    """`{% call form_for("client_note", client_id=client.id, hx=True, attrs={…}) %}…{% endcall %}`:
    a form whose action is a named route, written once, with the CSRF field when it posts.
    `query` adds a query string, `hx` sends it through htmx as well, `attrs` are further
    attributes. Python rather than a macro: a card's live update renders a dozen of these, and
    a macro imported `with context` is re-run on every render (it doubled the fragment's cost)."""
    method = method.lower()
    action = escape(with_query(_url_for(context, route, **path_params), query))
    parts = [f'<form method="{escape(method)}" action="{action}"']
    if hx:
        parts.append(f' hx-{escape(method)}="{action}"')
    if novalidate:
        parts.append(" novalidate")
    for name, value in (attrs or {}).items():
        if value is not None and not isinstance(value, Undefined):  # as `xmlattr` does
            parts.append(f' {escape(name)}="{escape(value)}"')
    parts.append(">\n")
    if method == "post":
        token = escape(context.get("csrf_token", ""))
        parts.append(f'<input type="hidden" name="csrftoken" value="{token}">\n')
    parts.append(f"{caller()}</form>")  # the body is already escaped markup
    return Markup("".join(parts))


def _query(path: str, **params: Any) -> str:
    """`url_for('clients') | query(q=q)`: a query string, empty values left out."""
    return with_query(path, params)


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # added to the Environment by the i18n extension, at run time
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext, ngettext, newstyle=True, pgettext=pgettext
    )
    env.filters["phone"] = phones.display
    env.filters["time"] = _format_time
    env.filters["duration"] = _duration
    env.filters["query"] = _query
    env.filters["call_tone"] = call_tone
    env.globals.update(
        url_for=_url_for,  # before Jinja2Templates', which would give absolute URLs
        form_for=_form_for,
        role_label=employees.role_label,
        call_method_label=employees.call_method_label,
        client_type_label=clients.client_type_label,
        call_status_label=calls.status_label,
        direction_label=calls.direction_label,
        webhook_result_label=inbox.result_label,
        job_state_label=reactions.job_state_label,
        # The states templates compare with, by name (the rows hold their plain values).
        Role=employees.Role,
        CallMethod=employees.CallMethod,
        ClientType=clients.ClientType,
        MessageKind=dialogs.MessageKind,
        JobState=reactions.JobState,
        DeliveryResult=inbox.DeliveryResult,
        CALL_METHODS=tuple(employees.CallMethod),
        ROLES=tuple(employees.Role),
        CLIENT_TYPES=tuple(clients.ClientType),
        MESSENGERS=projects.MESSENGERS,
        LANGUAGES=LANGUAGES,
        current_language=current_language,
    )
    return env


templates = Jinja2Templates(env=_environment())


def _base(request: Request) -> dict[str, Any]:
    csrf = request.scope.get("csrftoken")
    return {
        "user": getattr(request.state, "user", None),
        "csrf_token": csrf() if csrf else "",
        "missed_open": getattr(request.state, "missed_open", 0),  # the nav's count (web/auth.py)
    }


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    """Render a page or fragment with the signed-in user and the CSRF token at hand."""
    return templates.TemplateResponse(
        request, name, {**_base(request), **(context or {})}, status_code=status_code
    )


def fragment(request: Request, name: str, context: dict[str, Any]) -> str:
    """A fragment as text, for a live update: the same template and context as `render`."""
    return templates.env.get_template(name).render(
        {"request": request, **_base(request), **context}
    )
