"""«Звонки» (every employee): the project's calls with filters in the address, and the export."""

from __future__ import annotations

from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from core import clients, clock, employees, events
from core.telephony import call_journal
from core.telephony.call_journal import JournalFilter
from web.auth import login_required
from web.forms import query_int
from web.templating import render


def _dates(request: Request) -> tuple[date | None, date | None, str]:
    """The filter's «С» and «По», or why they do not apply (shown by the form)."""
    q = request.query_params
    return call_journal.read_dates(q.get("from", "")[:40], q.get("to", "")[:40])


def date_error(request: Request) -> str:
    """Why the filter's dates do not apply, or "" (the form shows it under the dates)."""
    return _dates(request)[2]


def _choice(request: Request, name: str, allowed: tuple[str, ...]) -> str:
    value = request.query_params.get(name, "")
    return value if value in allowed else ""


async def journal_filter(request: Request) -> tuple[JournalFilter, dict[str, Any]]:
    """The journal's filter from the query string, and the query that gives it again."""
    db, user = request.state.db, request.state.user
    date_from, date_to, _error = _dates(request)
    period = "" if date_from or date_to else _choice(request, "period", tuple(call_journal.Period))
    start, end = call_journal.period_bounds(period, date_from, date_to, clock.now())
    employee = request.query_params.get("employee", "")
    pbx_user: str | None = None
    if employee == "me":
        pbx_user = user["pbx_user"] or ""
    elif (employee_id := query_int(request, "employee")) is not None:
        staff = await employees.list_employees(db, user["project_id"])
        pbx_user = next((e["pbx_user"] or "" for e in staff if e["id"] == employee_id), "")
    else:
        employee = ""
    f = JournalFilter(
        start=start,
        end=end,
        direction=_choice(request, "direction", tuple(call_journal.DIRECTIONS)),
        status=_choice(request, "status", tuple(call_journal.STATUSES)),
        pbx_user=pbx_user,
        client_id=query_int(request, "client"),
        search=request.query_params.get("q", "").strip()[:100],
    )
    params = {
        "period": period,
        "from": date_from.isoformat() if date_from else "",
        "to": date_to.isoformat() if date_to else "",
        "direction": f.direction,
        "status": f.status,
        "employee": employee,
        "client": f.client_id,
        "q": f.search,
    }
    return f, params


@login_required
async def journal(request: Request) -> Response:
    """Every call of the project, newest first; new ones arrive live on the first page."""
    db, project_id = request.state.db, request.state.user["project_id"]
    live_cursor = await events.latest_id(db)  # read first: the stream replays what follows
    f, params = await journal_filter(request)
    client = await clients.get_client(db, project_id, f.client_id) if f.client_id else None
    before = query_int(request, "before")
    found = await call_journal.page(db, project_id, f, before=before)
    context = {
        "rows": found.rows,
        "next_before": found.next_before,
        "before": before,
        "params": params,
        "client": client,
        "live_cursor": live_cursor,
        "date_error": date_error(request),
        "typed": {k: request.query_params.get(k, "")[:40] for k in ("from", "to")},
        "employees": await employees.list_employees(db, project_id, active_only=True),
        "periods": tuple(call_journal.Period),
        "period_label": call_journal.period_label,
        "directions": call_journal.DIRECTIONS,
        "statuses": call_journal.STATUSES,
    }
    return render(request, "calls/journal.html", context)


def _attachment(request: Request, extension: str) -> dict[str, str]:
    day = clock.now().astimezone(call_journal.PROJECT_TZ).date().isoformat()
    return {"Content-Disposition": f'attachment; filename="calls-{day}.{extension}"'}


@login_required
async def export_csv(request: Request) -> Response:
    """The filtered journal as CSV for Excel, streamed in batches."""
    f, _ = await journal_filter(request)
    rows = call_journal.rows_for_export(request.state.db, request.state.user["project_id"], f)
    return StreamingResponse(
        call_journal.csv_chunks(rows),
        media_type="text/csv; charset=utf-8",
        headers=_attachment(request, "csv"),
    )


@login_required
async def export_xlsx(request: Request) -> Response:
    """The filtered journal as an XLSX workbook, streamed as it is compressed."""
    f, _ = await journal_filter(request)
    rows = call_journal.rows_for_export(request.state.db, request.state.user["project_id"], f)
    return StreamingResponse(
        call_journal.xlsx_chunks(rows),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers=_attachment(request, "xlsx"),
    )
