"""«Телефония» (admins): connect the MegaFon PBX, check the connection, disconnect, and
choose which calls the CRM may place («Разрешённые направления»)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from core import clock, projects
from core.errors import ValidationError
from core.i18n import gettext as _
from core.telephony import call_rules, connection, reconciliation, recordings, wrong_tokens
from core.telephony.pbx_client import PbxError
from core.telephony.pbx_directory import check_connection
from web.actor import actor
from web.auth import admin_required
from web.forms import text
from web.htmx import wants_fragment
from web.templating import render
from web.urls import public_url_for, redirect


async def _megafon_page(request: Request, status: int = 200, **extra: object) -> Response:
    project_id = request.state.user["project_id"]
    current = await connection.get(request.state.db, project_id)
    context = {
        "connection": current,
        "masked_token": connection.masked(current["api_token"]) if current else "",
        "project": await projects.get_project(request.state.db, project_id),
        "webhook_address": public_url_for(request, "megafon_webhook"),
        "saved": request.query_params.get("saved"),
        "editing": current is None or request.query_params.get("edit") is not None,
        "rules": await call_rules.get(request.state.db, project_id),
        "wrong_tokens": await wrong_tokens.last_day(request.state.db),
        **await _recordings_context(request),
        **await _health_context(request),
        **extra,
    }
    return render(request, "telephony/megafon.html", context, status)


async def _recordings_context(request: Request) -> dict[str, object]:
    """«Записи разговоров»: the space they use and how long they are kept."""
    db, project_id = request.state.db, request.state.user["project_id"]
    return {
        "recording_usage": await recordings.space_used(db, project_id),
        "keep_days": await recordings.keep_days(db, project_id),
    }


RECONCILE_WAIT = 20.0  # seconds «Сверить с АТС» waits for the result before it goes on behind


async def _health_context(request: Request) -> dict[str, object]:
    """«Состояние интеграции»: the last webhook, the last reconciliation, calls restored."""
    return {
        "health": await reconciliation.health(request.state.db, request.state.user["project_id"]),
        "sync_minutes": request.state.settings.pbx_sync_minutes,
    }


@admin_required
async def reconcile(request: Request) -> Response:
    """«Сверить с АТС»: reconcile with the PBX's history now and show the health anew."""
    db, project_id = request.state.db, request.state.user["project_id"]
    run = await reconciliation.reconcile_now(
        db, request.state.pbx_http, project_id, wait=RECONCILE_WAIT
    )
    if run is None:
        outcome = {"reconcile_ok": False, "reconcile_message": _("Сверка уже идёт.")}
    elif run.result == reconciliation.Result.RUNNING:
        message = _(
            "Сверка продолжается в фоне: звонков много или АТС отвечает медленно. "
            "Её итог появится здесь — обновите страницу через минуту."
        )
        outcome = {"reconcile_ok": True, "reconcile_message": message}
    elif run.result == reconciliation.Result.OK:
        message = _("Сверка завершена: прочитано звонков: {read}, восстановлено: {restored}.")
        outcome = {
            "reconcile_ok": True,
            "reconcile_message": message.format(read=run.calls_read, restored=run.calls_restored),
        }
    else:
        outcome = {"reconcile_ok": False, "reconcile_message": run.error}
    if wants_fragment(request):
        return render(
            request, "telephony/_health.html", {**await _health_context(request), **outcome}
        )
    return await _megafon_page(request, 200, **outcome)


@admin_required
async def keep_recordings(request: Request) -> Response:
    """«Хранить записи разговоров, дней»: empty keeps them for ever."""
    form = await request.form()
    try:
        await recordings.set_keep_days(
            request.state.db,
            request.state.user["project_id"],
            text(form, "keep_days"),
            clock.now(),
            who=actor(request),
        )
    except ValidationError as e:
        return await _megafon_page(
            request, 422, keep_days=text(form, "keep_days"), recordings_errors=e.errors
        )
    return redirect(
        request, "telephony_megafon", query={"saved": "recordings"}, fragment="recordings-title"
    )


@admin_required
async def index(request: Request) -> Response:
    """The telephony services, with the MegaFon tile."""
    current = await connection.get(request.state.db, request.state.user["project_id"])
    context = {"connection": current, "wrong_tokens": await wrong_tokens.last_day(request.state.db)}
    return render(request, "telephony/index.html", context)


@admin_required
async def megafon(request: Request) -> Response:
    """The MegaFon form: «API token», «Megafon domain», «Сохранить настройки»; with `?edit`
    it changes a connected PBX's token or domain."""
    if request.method == "GET":
        return await _megafon_page(request)
    form = await request.form()
    try:
        await connection.save(
            request.state.db,
            request.state.user["project_id"],
            text(form, "token"),
            text(form, "domain"),
            allow_private=request.state.settings.pbx_allow_private,
            who=actor(request),
        )
    except ValidationError as e:
        return await _megafon_page(
            request, 422, errors=e.errors, domain=text(form, "domain"), editing=True
        )
    return redirect(request, "telephony_megafon", query={"saved": 1})


@admin_required
async def rules(request: Request) -> Response:
    """«Разрешённые направления»: international and premium-rate numbers, and the limits on
    calls by bots and through the API."""
    form = await request.form()
    international, premium = text(form, "international") == "on", text(form, "premium") == "on"
    per_minute, per_hour = text(form, "per_minute"), text(form, "per_hour")
    try:
        await call_rules.save(
            request.state.db,
            request.state.user["project_id"],
            international=international,
            premium=premium,
            per_minute=per_minute,
            per_hour=per_hour,
            who=actor(request),
        )
    except ValidationError as e:
        sent = {
            "international": international,
            "premium": premium,
            "per_minute": per_minute,
            "per_hour": per_hour,
        }
        return await _megafon_page(request, 422, rules=sent, rules_errors=e.errors)
    return redirect(request, "telephony_megafon", query={"saved": "rules"}, fragment="rules-title")


@admin_required
async def check(request: Request) -> Response:
    """«Проверить подключение»: ask the PBX for its employees and say what happened."""
    try:
        users = await check_connection(  # the employees it reads go to «Сотрудники» too
            request.state.db,
            request.state.pbx_http,
            request.state.user["project_id"],
        )
    except PbxError as e:
        result = {"ok": False, "message": e.message}
    else:
        result = {
            "ok": True,
            "message": _("Подключение работает: АТС ответила. Сотрудников в АТС: {n}.").format(
                n=len(users)
            ),
            "users": users,
        }
    if wants_fragment(request):
        return render(request, "telephony/_check.html", {"check": result})
    return await _megafon_page(request, check=result)


@admin_required
async def disconnect(request: Request) -> Response:
    """«Отключить»: the CRM stops calling the PBX; nothing else is deleted."""
    await connection.disconnect(
        request.state.db, request.state.user["project_id"], who=actor(request)
    )
    return redirect(request, "telephony", query={"saved": "disconnected"})
