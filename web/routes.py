"""The whole HTTP surface of the app, in two tables; every route is named.

`machine_routes` are called by machines that carry their own keys (the PBX, programs using the
API): no session, no CSRF, no language, JSON errors. `browser_routes` are people's pages.
`web/app.py` gives each table its own middleware."""

from pathlib import Path

from starlette.middleware import Middleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from web import api, sse
from web.body_limits import BodyLimit
from web.errors import json_answer
from web.ids import register_id_convertor
from web.megafon_webhook import megafon_webhook
from web.payload import MAX_BODY
from web.views import (
    analytics,
    audit,
    bot,
    calls,
    clients,
    employees,
    missed,
    pbx_employees,
    profile,
    recordings,
    session,
    settings,
    telephony,
    webhooks,
)

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
GET, POST, BOTH = ["GET"], ["POST"], ["GET", "POST"]
register_id_convertor()  # `{client_id:id}`: an id no row can have is a 404 (web/ids.py)

browser_routes = [
    Route("/", session.home, name="home"),
    Route("/setup", session.setup, methods=BOTH, name="setup"),
    Route("/login", session.login, methods=BOTH, name="login"),
    Route("/logout", session.logout, methods=POST, name="logout"),
    Route("/language", session.language, methods=POST, name="language"),
    # The signed-in employee's own page ("Профиль"): password and sessions
    Route("/profile", profile.index, name="profile"),
    Route("/profile/password", profile.change_password, methods=POST, name="profile_password"),
    Route(
        "/profile/sessions/end-others",
        profile.end_others,
        methods=POST,
        name="sessions_end_others",
    ),
    Route(
        "/profile/sessions/{session_id:id}/end",
        profile.end_one,
        methods=POST,
        name="session_end",
    ),
    # Project settings ("Настройки")
    Route("/settings", settings.index, name="settings"),
    Route("/settings/api-key", settings.generate_key, methods=POST, name="api_key_generate"),
    Route(
        "/settings/api-key/regenerate",
        settings.regenerate_key,
        methods=BOTH,
        name="api_key_regenerate",
    ),
    Route("/settings/messengers", settings.messengers, methods=POST, name="messengers"),
    # Telephony ("Телефония")
    Route("/telephony", telephony.index, name="telephony"),
    Route("/telephony/megafon", telephony.megafon, methods=BOTH, name="telephony_megafon"),
    Route("/telephony/megafon/check", telephony.check, methods=POST, name="telephony_check"),
    Route(
        "/telephony/megafon/reconcile",
        telephony.reconcile,
        methods=POST,
        name="telephony_reconcile",
    ),
    Route("/telephony/megafon/rules", telephony.rules, methods=POST, name="telephony_rules"),
    Route(
        "/telephony/megafon/recordings",
        telephony.keep_recordings,
        methods=POST,
        name="telephony_recordings",
    ),
    Route(
        "/telephony/megafon/disconnect",
        telephony.disconnect,
        methods=POST,
        name="telephony_disconnect",
    ),
    # Bot reactions ("Бот")
    Route("/bot", bot.index, methods=BOTH, name="bot"),
    Route("/bot/{reaction_id:id}", bot.reaction, methods=BOTH, name="bot_reaction"),
    Route("/bot/{reaction_id:id}/delete", bot.delete, methods=POST, name="bot_delete"),
    # Employees ("Сотрудники")
    Route("/employees", employees.index, name="employees"),
    Route("/employees/new", employees.create, methods=BOTH, name="employee_new"),
    Route("/employees/pbx-user-field", employees.pbx_user_field, name="employee_pbx_field"),
    Route("/employees/pbx-users", pbx_employees.suggestions, name="employee_pbx_users"),
    Route(
        "/employees/pbx-refresh",
        pbx_employees.refresh,
        methods=POST,
        name="employees_pbx_refresh",
    ),
    Route("/employees/pbx", pbx_employees.match, methods=BOTH, name="employees_pbx_match"),
    Route("/employees/{employee_id:id}", employees.edit, methods=BOTH, name="employee"),
    Route(
        "/employees/{employee_id:id}/deactivate",
        employees.set_active,
        methods=POST,
        name="employee_deactivate",
    ),
    Route(
        "/employees/{employee_id:id}/activate",
        employees.set_active,
        methods=POST,
        name="employee_activate",
    ),
    # Clients ("Клиенты")
    Route("/clients", clients.index, name="clients"),
    Route("/clients/new", clients.create, methods=BOTH, name="client_new"),
    Route("/clients/{client_id:id}", clients.card, name="client"),
    Route("/clients/{client_id:id}/edit", clients.edit, methods=BOTH, name="client_edit"),
    Route(
        "/clients/{client_id:id}/variables",
        clients.set_variable,
        methods=POST,
        name="client_variable_set",
    ),
    Route(
        "/clients/{client_id:id}/variables/{name:str}/delete",
        clients.delete_variable,
        methods=POST,
        name="client_variable_delete",
    ),
    Route("/clients/{client_id:id}/notes", clients.add_note, methods=POST, name="client_note"),
    Route("/clients/{client_id:id}/messages", clients.earlier_messages, name="client_messages"),
    Route("/clients/{client_id:id}/call", clients.call, methods=POST, name="client_call"),
    Route(
        "/clients/{client_id:id}/call/{request_id:id}",
        clients.call_progress,
        name="client_call_progress",
    ),
    # The project's calls («Звонки») and their export
    Route("/calls", calls.journal, name="calls"),
    Route("/calls/export.csv", calls.export_csv, name="calls_export_csv"),
    Route("/calls/export.xlsx", calls.export_xlsx, name="calls_export_xlsx"),
    Route("/recordings/{call_id:id}", recordings.recording, name="recording"),
    # Clients waiting for a callback («Пропущенные»)
    Route("/missed", missed.queue, name="missed"),
    Route("/missed/closed", missed.closed, name="missed_closed"),
    Route("/missed/thresholds", missed.thresholds, methods=POST, name="missed_thresholds"),
    Route("/missed/{item_id:id}/close", missed.close, methods=POST, name="missed_close"),
    Route("/missed/{item_id:id}/reopen", missed.reopen, methods=POST, name="missed_reopen"),
    # The calls in charts and per employee («Аналитика»)
    Route("/analytics", analytics.analytics, name="analytics"),
    # Live updates of open pages (Server-Sent Events)
    Route("/events", sse.stream, name="events"),
    # What the PBX sent («Журнал вебхуков»)
    Route("/webhooks", webhooks.journal, name="webhooks"),
    Route("/webhooks/{delivery_id:id}/rerun", webhooks.rerun, methods=POST, name="webhook_rerun"),
    # Who did what, when and from where («Журнал действий»)
    Route("/audit", audit.journal, name="audit_log"),
    Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
]

# Machines post kilobytes: a larger body is refused before it is read (web/body_limits.py)
MACHINE_BODY = [Middleware(BodyLimit, limit=MAX_BODY, answer=json_answer)]

machine_routes = [
    # The PBX posts every command here (first: it is the busiest route); GET too, as its
    # vendor documents for `history`
    Route(
        "/megafon_webhook",
        megafon_webhook,
        methods=BOTH,
        name="megafon_webhook",
        middleware=MACHINE_BODY,
    ),
    # Public API, Salebot style
    Mount(
        "/api/{api_key:str}",
        middleware=MACHINE_BODY,
        routes=[
            Route("/callback", api.callback, methods=BOTH, name="api_callback"),
            Route("/megafon_call", api.megafon_call, methods=POST, name="api_megafon_call"),
        ],
    ),
]
