"""The PBX's employees in «Сотрудники» (admins): suggestions for the employee form's PBX field,
«Обновить из АТС» and «Сопоставить с АТС»."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from core import employees
from core.errors import ValidationError
from core.telephony import pbx_directory
from web.actor import actor
from web.auth import admin_required
from web.htmx import wants_fragment
from web.ids import parse_id
from web.templating import render
from web.urls import redirect

_BACK = {"employees", "employees_pbx_match"}  # where «Обновить из АТС» returns to


@admin_required
async def suggestions(request: Request) -> Response:
    """The PBX users that fit what was typed into the PBX field (an htmx fragment)."""
    directory = await pbx_directory.read(request.state.db, request.state.user["project_id"])
    typed = request.query_params.get("pbx_user", "")
    found = pbx_directory.search(directory, typed) if typed.strip() else []
    context = {"found": found, "typed": typed, "pbx": directory}
    return render(request, "employees/_pbx_user_options.html", context)


@admin_required
async def refresh(request: Request) -> Response:
    """«Обновить из АТС»: read the PBX's employees now; from the employee form, its PBX field
    comes back with the new list (what was typed stays)."""
    form = await request.form()
    directory = await request.state.pbx_directory.now(request.state.user["project_id"])
    if wants_fragment(request):
        values = {"call_method": form.get("call_method", ""), "pbx_user": form.get("pbx_user", "")}
        context = {"form": values, "errors": {}, "pbx": directory}
        return render(request, "employees/_pbx_user_field.html", context)
    back = str(form.get("back", ""))
    return redirect(request, back if back in _BACK else "employees", query={"refreshed": 1})


@admin_required
async def match(request: Request) -> Response:
    """«Сопоставить с АТС»: a proposed PBX user for every employee, confirmed with one button."""
    project_id = request.state.user["project_id"]
    if request.method == "GET":
        return await _match_page(request)
    form = await request.form()
    try:
        changed = await pbx_directory.assign(
            request.state.db, project_id, _choices(form), who=actor(request)
        )
    except ValidationError as e:
        return await _match_page(request, errors=e.errors, sent=form, status=422)
    return redirect(request, "employees_pbx_match", query={"saved": changed})


def _choices(form: FormData) -> dict[int, str]:
    """The ticked employees (`assign`), each with the PBX login chosen in their row."""
    chosen = {}
    for raw in form.getlist("assign"):
        # `²` is a digit to `str.isdigit` and 5,000 nines are too long for `int`: not ids
        employee_id = parse_id(raw) if isinstance(raw, str) else None
        if employee_id is not None:
            login = form.get(f"pbx_user_{raw}", "")
            chosen[employee_id] = login if isinstance(login, str) else ""
    return chosen


async def _match_page(
    request: Request,
    *,
    errors: Mapping[str, str] | None = None,
    sent: FormData | None = None,
    status: int = 200,
) -> Response:
    project_id = request.state.user["project_id"]
    directory = await request.state.pbx_directory.current(project_id)
    staff = await employees.list_employees(request.state.db, project_id)
    context = {
        "pbx": directory,
        "proposals": pbx_directory.propose(staff, directory),
        "errors": errors or {},
        "sent": sent,
        "saved": request.query_params.get("saved"),
        "reason_label": pbx_directory.reason_label,
    }
    return render(request, "employees/pbx.html", context, status)
