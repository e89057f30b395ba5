"""Employees ("Сотрудники"), admins only: list, add, edit, deactivate, call method."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from core import employees
from core.errors import ValidationError
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


def _form(
    request: Request,
    values: Mapping[str, Any],
    *,
    employee: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
    status: int = 200,
) -> Response:
    context = {"form": values, "employee": employee, "errors": errors or {}}
    return render(request, "employees/form.html", context, status)


@admin_required
async def index(request: Request) -> Response:
    """Every employee of the project, active ones first."""
    rows = await employees.list_employees(request.state.db, request.state.user["project_id"])
    return render(request, "employees/list.html", {"employees": rows})


@admin_required
async def create(request: Request) -> Response:
    """Add an employee."""
    if request.method == "GET":
        return _form(
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
        return _form(request, form, errors=e.errors, status=422)
    return redirect(request, "employees", query={"saved": 1})


@admin_required
async def edit(request: Request) -> Response:
    """Edit an employee: details, role, password reset, call method."""
    project_id = request.state.user["project_id"]
    employee = await employees.get_employee(
        request.state.db, project_id, request.path_params["employee_id"]
    )
    if request.method == "GET":
        return _form(
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
        return _form(request, form, employee=employee, errors=e.errors, status=422)
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
    return render(request, "employees/_pbx_user_field.html", {"form": values, "errors": {}})
