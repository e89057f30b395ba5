"""Employees ("Сотрудники"), admins only: list, add, edit, deactivate, call method."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from core import employees
from core.errors import ValidationError
from core.telephony import pbx_directory
from web.actor import actor
from web.auth import admin_required
from web.forms import text
from web.templating import render
from web.urls import redirect


def _input(form: FormData) -> employees.EmployeeInput:
    return employees.EmployeeInput(
        name=text(form, "name"),
        email=text(form, "email"),
        role=text(form, "role"),
        password=text(form, "password"),
        call_method=text(form, "call_method"),
        pbx_user=text(form, "pbx_user"),
    )


async def _form(
    request: Request,
    values: Mapping[str, Any],
    *,
    employee: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
    status: int = 200,
) -> Response:
    directory = await request.state.pbx_directory.current(request.state.user["project_id"])
    context = {"form": values, "employee": employee, "errors": errors or {}, "pbx": directory}
    return render(request, "employees/form.html", context, status)


@admin_required
async def index(request: Request) -> Response:
    """Every employee of the project, active ones first; those whose PBX login is gone from
    the PBX are flagged."""
    project_id = request.state.user["project_id"]
    directory = await request.state.pbx_directory.current(project_id)
    rows = await employees.list_employees(request.state.db, project_id)
    context = {
        "employees": rows,
        "pbx": directory,
        "missing": await pbx_directory.missing(request.state.db, project_id),
    }
    return render(request, "employees/list.html", context)


@admin_required
async def create(request: Request) -> Response:
    """Add an employee."""
    if request.method == "GET":
        return await _form(
            request, {"role": employees.Role.MANAGER, "call_method": employees.CallMethod.DISABLED}
        )
    form = await request.form()
    try:
        await employees.create_employee(
            request.state.db,
            request.state.passwords,
            request.state.user["project_id"],
            _input(form),
            who=actor(request),
        )
    except ValidationError as e:
        return await _form(request, form, errors=e.errors, status=422)
    return redirect(request, "employees", query={"saved": 1})


@admin_required
async def edit(request: Request) -> Response:
    """Edit an employee: details, role, password reset, call method."""
    project_id = request.state.user["project_id"]
    employee = await employees.get_employee(
        request.state.db, project_id, request.path_params["employee_id"]
    )
    if request.method == "GET":
        return await _form(
            request, {**employee, "pbx_user": employee["pbx_user"] or ""}, employee=employee
        )
    form = await request.form()
    try:
        await employees.update_employee(
            request.state.db,
            request.state.passwords,
            project_id,
            employee["id"],
            _input(form),
            who=actor(request),
        )
    except ValidationError as e:
        return await _form(request, form, employee=employee, errors=e.errors, status=422)
    return redirect(request, "employees", query={"saved": 1})


@admin_required
async def set_active(request: Request) -> Response:
    """Deactivate an employee (they can no longer sign in) or bring them back."""
    active = request.scope["route"].name == "employee_activate"
    await employees.set_active(
        request.state.db,
        request.state.user["project_id"],
        request.path_params["employee_id"],
        active,
        acting_user_id=request.state.user["id"],
        who=actor(request),
    )
    return redirect(request, "employees")


@admin_required
async def pbx_user_field(request: Request) -> Response:
    """The PBX login field, shown only for "Звонки по API Megafon" (swapped in by htmx)."""
    values = {
        "call_method": request.query_params.get("call_method", ""),
        "pbx_user": request.query_params.get("pbx_user", ""),
    }
    directory = await pbx_directory.read(request.state.db, request.state.user["project_id"])
    context = {"form": values, "errors": {}, "pbx": directory}
    return render(request, "employees/_pbx_user_field.html", context)
