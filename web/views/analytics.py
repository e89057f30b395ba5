"""«Аналитика»: a period of calls in charts and a table; admins see all, managers themselves."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from starlette.requests import Request
from starlette.responses import Response

from core import clock, employees
from core.telephony import call_analytics, call_journal
from web.auth import login_required
from web.templating import render
from web.views.calls import date_error, journal_filter

DEFAULT_DAYS = 30  # with no period chosen: the last 30 days, today included
MAX_PERIOD = timedelta(days=call_analytics.MAX_DAYS)


@login_required
async def analytics(request: Request) -> Response:
    """Calls per day, a heatmap of incoming calls and a table per employee for the period."""
    db, user = request.state.db, request.state.user
    f, params = await journal_filter(request)
    if not params["period"]:  # dates, a half of them or none: up to today, 30 days by default
        end = f.end or call_journal.period_bounds("today", None, None, clock.now())[1]
        assert end is not None
        start = max(f.start or end - timedelta(days=DEFAULT_DAYS), end - MAX_PERIOD)
        f = dataclasses.replace(f, start=start, end=end)
        last_day = end - timedelta(days=1)
        params |= {"from": start.date().isoformat(), "to": last_day.date().isoformat()}
    is_admin = user["role"] == employees.Role.ADMIN
    if not is_admin:  # a manager's own calls, whatever the address asks for
        f = dataclasses.replace(f, pbx_user=user["pbx_user"] or "")
        params["employee"] = "me"
    context = {
        "report": await call_analytics.analytics(db, user["project_id"], f),
        "params": {k: v for k, v in params.items() if k in ("period", "from", "to", "employee")},
        "date_error": date_error(request),
        "is_admin": is_admin,
        "employees": await employees.list_employees(db, user["project_id"], active_only=True),
        "periods": tuple(call_journal.Period),
        "period_label": call_journal.period_label,
    }
    return render(request, "analytics/page.html", context)
