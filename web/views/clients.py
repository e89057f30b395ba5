"""Clients ("Клиенты"): the searchable list, the add form and the client card."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from core import clients, clock, dialogs, employees, events, variables
from core.errors import Conflict, NotFound, ValidationError, describe
from core.i18n import gettext as _
from core.telephony import calls, dialing, dialog_calls
from core.telephony.pbx_client import PbxError, PbxNotConnected
from web.auth import login_required
from web.forms import optional_int, query_int, text
from web.htmx import wants_fragment
from web.templating import render
from web.urls import redirect


async def _staff(request: Request) -> list[employees.Employee]:
    return await employees.list_employees(
        request.state.db, request.state.user["project_id"], active_only=True
    )


@login_required
async def index(request: Request) -> Response:
    """The client list, searchable by name, phone in any format or variable values."""
    query = request.query_params.get("q", "")
    page = await clients.find_clients(
        request.state.db,
        request.state.user["project_id"],
        query,
        before=query_int(request, "before"),
    )
    context = {"page": page, "q": query, "paged": "before" in request.query_params}
    template = "clients/_results.html" if wants_fragment(request) else "clients/list.html"
    return render(request, template, context)


def _client_input(form: Any) -> clients.ClientInput:
    return clients.ClientInput(
        name=text(form, "name"),
        phone=text(form, "phone"),
        client_type=text(form, "client_type") or clients.ClientType.TELEPHONY,
        responsible_id=optional_int(form, "responsible_id"),
    )


async def _form(
    request: Request,
    values: Any,
    *,
    client: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
    status: int = 200,
) -> Response:
    context = {
        "client": client,
        "form": values,
        "errors": errors or {},
        "staff": await _staff(request),
    }
    return render(request, "clients/form.html", context, status)


@login_required
async def create(request: Request) -> Response:
    """Add a client by hand."""
    if request.method == "GET":
        defaults = {
            "client_type": clients.ClientType.TELEPHONY,
            "responsible_id": request.state.user["id"],
        }
        return await _form(request, defaults)
    form = await request.form()
    try:
        client_id = await clients.create_client(
            request.state.db, request.state.user["project_id"], _client_input(form)
        )
    except ValidationError as e:
        return await _form(request, form, errors=e.errors, status=422)
    return redirect(request, "client", client_id=client_id)


async def _card_context(request: Request, client_id: int) -> dict[str, Any]:
    db, project_id = request.state.db, request.state.user["project_id"]
    # Read first: the live stream replays whatever happens after it, so nothing is missed
    # (and what is shown twice is dropped by its element id in the page).
    live_cursor = await events.latest_id(db)
    client = await clients.get_client(db, project_id, client_id)
    return {
        "live_cursor": live_cursor,
        "client": client,
        "variables": await variables.list_variables(db, client_id),
        **await _dialog_context(request, client_id),
    }


async def _dialog_context(
    request: Request, client_id: int, before: int | None = None
) -> dict[str, Any]:
    """A page of the dialog with the calls its messages tell about (a query for all of them)."""
    db, project_id = request.state.db, request.state.user["project_id"]
    page = await dialogs.dialog(db, project_id, client_id, before=before)
    items = await dialog_calls.call_items(db, project_id, page.messages)
    newest = before is None
    return {
        "dialog": page,
        "call_items": items,
        "ringing": await dialog_calls.ringing(db, client_id, items, clock.now()) if newest else [],
        "staff_names": await calls.employee_names(db, project_id),
    }


@login_required
async def card(request: Request) -> Response:
    """The client card: details, variables and the dialog."""
    context = await _card_context(request, request.path_params["client_id"])
    return render(request, "clients/card.html", context)


@login_required
async def edit(request: Request) -> Response:
    """Change a client's name, phone, type or responsible employee."""
    db, project_id = request.state.db, request.state.user["project_id"]
    client = await clients.get_client(db, project_id, request.path_params["client_id"])
    if request.method == "GET":
        return await _form(request, {**client, "phone": client["phone"] or ""}, client=client)
    form = await request.form()
    try:
        await clients.update_client(db, project_id, client["id"], _client_input(form))
    except ValidationError as e:
        return await _form(request, form, client=client, errors=e.errors, status=422)
    return redirect(request, "client", client_id=client["id"])


async def _variables_fragment(
    request: Request, client_id: int, *, form: Any = None, errors: Any = None, status: int = 200
) -> Response:
    context = {
        "client": await clients.get_client(
            request.state.db, request.state.user["project_id"], client_id
        ),
        "variables": await variables.list_variables(request.state.db, client_id),
        "var_form": form or {},
        "var_errors": errors or {},
    }
    if wants_fragment(request):
        return render(request, "clients/_variables.html", context, status)
    if status != 200:
        return render(
            request,
            "clients/card.html",
            {**await _card_context(request, client_id), **context},
            status,
        )
    return redirect(request, "client", fragment="variables", client_id=client_id)


@login_required
async def set_variable(request: Request) -> Response:
    """Add a variable or change its value."""
    client_id = request.path_params["client_id"]
    form = await request.form()
    try:
        await variables.set_variable(
            request.state.db,
            request.state.user["project_id"],
            client_id,
            text(form, "name"),
            text(form, "value"),
        )
    except ValidationError as e:
        return await _variables_fragment(request, client_id, form=form, errors=e.errors, status=422)
    return await _variables_fragment(request, client_id)


@login_required
async def delete_variable(request: Request) -> Response:
    """Remove a variable."""
    client_id = request.path_params["client_id"]
    await variables.delete_variable(
        request.state.db, request.state.user["project_id"], client_id, request.path_params["name"]
    )
    return await _variables_fragment(request, client_id)


@login_required
async def add_note(request: Request) -> Response:
    """A manager's note in the dialog."""
    client_id = request.path_params["client_id"]
    form = await request.form()
    try:
        message = await dialogs.add_note(
            request.state.db,
            request.state.user["project_id"],
            client_id,
            request.state.user["id"],
            text(form, "text"),
        )
    except ValidationError as e:
        if wants_fragment(request):
            return render(
                request,
                "clients/_note_form.html",
                {
                    "client": {"id": client_id},
                    "note_error": e.errors["text"],
                    "note_text": text(form, "text"),
                },
                422,
            )
        context = {**await _card_context(request, client_id), "note_error": e.errors["text"]}
        return render(request, "clients/card.html", context, 422)
    if wants_fragment(request):
        return render(
            request, "clients/_note_added.html", {"client": {"id": client_id}, "message": message}
        )
    return redirect(request, "client", fragment="dialog-end", client_id=client_id)


@login_required
async def earlier_messages(request: Request) -> Response:
    """Older messages of the dialog, loaded above the ones shown."""
    client_id = request.path_params["client_id"]
    context = await _dialog_context(request, client_id, before=query_int(request, "before"))
    return render(request, "clients/_earlier.html", {"client": {"id": client_id}, **context})


@login_required
async def call(request: Request) -> Response:
    """The blue handset: the PBX rings the employee, then the client."""
    client = await clients.get_client(
        request.state.db, request.state.user["project_id"], request.path_params["client_id"]
    )
    context: dict[str, Any] = {"client": client}
    try:
        started = await dialing.call_from_card(
            request.state.db,
            request.state.pbx_http,
            request.state.user,
            client,
        )
    except (Conflict, ValidationError) as e:
        message = describe(e)
        return render(request, "clients/_call_status.html", {**context, "error": message}, 409)
    except PbxError as e:
        status = 409 if isinstance(e, PbxNotConnected) else 502
        return render(request, "clients/_call_status.html", {**context, "error": e.message}, status)
    if started.repeated:
        context["note"] = _("Звонок уже запрошен, второй не начат.")
    return await _call_progress(request, client, started.id, context)


@login_required
async def call_progress(request: Request) -> Response:
    """Where the call the handset started is now; the fragment asks again, with each live update
    of the card's calls, until it ends."""
    client = await clients.get_client(
        request.state.db, request.state.user["project_id"], request.path_params["client_id"]
    )
    return await _call_progress(request, client, request.path_params["request_id"], {})


async def _call_progress(
    request: Request, client: Mapping[str, Any], request_id: int, context: dict[str, Any]
) -> Response:
    project_id = request.state.user["project_id"]
    started = await dialing.get_request(request.state.db, project_id, request_id)
    if started is None or started["client_id"] != client["id"]:
        raise NotFound(_("Такого звонка нет."))
    call = await dialing.call_of_request(request.state.db, project_id, started)
    text_now, final = dialing.progress(started, call)
    context = {**context, "client": client, "call": call, "request_id": request_id, "final": final}
    key = "error" if started["state"] == dialing.RequestState.FAILED else "progress"
    return render(request, "clients/_call_status.html", {**context, key: text_now})
