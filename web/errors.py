"""Domain errors and HTTP errors turned into answers, in one place.

Browsers get a page (or, for htmx, a short fragment the page shows as an alert); machines
calling `/api/` or `/megafon_webhook` get JSON. Nobody ever sees a stack trace.
"""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response

from core.errors import Conflict, InvalidCredentials, NotFound, PermissionDenied, ValidationError
from core.i18n import gettext as _
from core.telephony.pbx_client import PbxError, PbxNotConnected
from core.telephony.protocol import InvalidWebhook
from web.auth import NotAuthenticated
from web.htmx import wants_fragment
from web.templating import render

log = logging.getLogger("crm")
MACHINE_PREFIXES = ("/api/", "/megafon_webhook")


def _titles() -> dict[int, str]:
    return {
        400: _("Неверный запрос"),
        401: _("Нужно войти"),
        403: _("Нет доступа"),
        404: _("Страница не найдена"),
        405: _("Метод не поддерживается"),
        409: _("Действие невозможно"),
        422: _("Проверьте данные"),
        502: _("АТС не ответила как нужно"),
        500: _("Что-то пошло не так"),
    }


def error_response(request: Request, status: int, message: str) -> Response:
    if request.url.path.startswith(MACHINE_PREFIXES):
        return JSONResponse({"error": message}, status_code=status)
    title = _titles().get(status, _("Ошибка"))
    if wants_fragment(request):
        return render(
            request, "errors/_alert.html", {"title": title, "message": message}, status_code=status
        )
    return render(
        request,
        "errors/error.html",
        {"status": status, "title": title, "message": message},
        status_code=status,
    )


async def not_authenticated(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, NotAuthenticated)
    if "text/event-stream" in request.headers.get("accept", ""):
        # A live stream (web/sse.py): an EventSource cannot follow a redirect to the login
        # page; the page's next navigation will.
        return PlainTextResponse(_("Нужно войти"), status_code=401)
    if wants_fragment(request):
        # A full-page redirect: the session ended while the page was open.
        return Response(status_code=204, headers={"HX-Redirect": exc.login_url})
    return RedirectResponse(exc.login_url, status_code=303)


async def domain_error(request: Request, exc: Exception) -> Response:
    status = {
        NotFound: 404,
        PermissionDenied: 403,
        Conflict: 409,
        InvalidCredentials: 401,
        ValidationError: 422,
    }[type(exc)]
    message = str(exc) if isinstance(exc, ValidationError) else exc.message  # type: ignore[attr-defined]
    return error_response(request, status, message or _titles()[status])


async def pbx_error(request: Request, exc: Exception) -> Response:
    """The PBX or the network failed (502), or there is no PBX to ask (409): in plain words."""
    assert isinstance(exc, PbxError)
    return error_response(request, 409 if isinstance(exc, PbxNotConnected) else 502, exc.message)


async def invalid_webhook(request: Request, exc: Exception) -> Response:
    """The PBX's own error shape (PROTOCOL.md §1.6), with what exactly is wrong."""
    assert isinstance(exc, InvalidWebhook)
    return JSONResponse({"error": "Invalid parameters", "details": exc.errors}, status_code=400)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    messages = {
        404: _("Такой страницы нет. Проверьте адрес или вернитесь к списку клиентов."),
        405: _("Этот адрес так не используется."),
    }
    return error_response(request, exc.status_code, messages.get(exc.status_code, exc.detail))


async def server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(
        request,
        500,
        _("Мы уже знаем о проблеме. Попробуйте ещё раз через минуту."),
    )


EXCEPTION_HANDLERS = {
    NotAuthenticated: not_authenticated,
    NotFound: domain_error,
    PermissionDenied: domain_error,
    Conflict: domain_error,
    InvalidCredentials: domain_error,
    ValidationError: domain_error,
    InvalidWebhook: invalid_webhook,
    PbxError: pbx_error,
    HTTPException: http_error,
    Exception: server_error,
}
