"""«Журнал действий» (admins): who signed in, changed the key, the telephony or an employee."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from core import audit, employees
from web.auth import admin_required
from web.forms import query_int
from web.templating import render


@admin_required
async def journal(request: Request) -> Response:
    """The project's journal, newest first, filterable by action and by employee."""
    project_id = request.state.user["project_id"]
    action = request.query_params.get("action") or None
    employee_id = query_int(request, "employee")
    entries, next_before = await audit.journal(
        request.state.db,
        project_id,
        action=action,
        employee_id=employee_id,
        before=query_int(request, "before"),
    )
    context = {
        "entries": entries,
        "next_before": next_before,
        "filters": {"action": action, "employee": employee_id},
        "actions": tuple(audit.Action),
        "action_label": audit.action_label,
        "employees": await employees.list_employees(request.state.db, project_id),
    }
    return render(request, "audit/journal.html", context)
