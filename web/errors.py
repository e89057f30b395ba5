"""Every error turned into an answer, in one place.

People's browsers get a page (or, for htmx, a short fragment the page shows as an alert);
machines (the PBX at `/megafon_webhook`, programs calling `/api/`) get JSON. The two sides of
the app (`web/app.py`) install the same handlers with their own representation. A domain
error's kind (`core/errors.py`) decides its status, so a subclass is answered as its family.
Nobody ever sees a stack trace; an unexpected error is logged once, with method and path.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.errors import CrmError, ErrorKind, StorageUnavailable, TooManyRequests, ValidationError
from core.i18n import gettext as _
from web.auth import NotAuthenticated
from web.htmx import wants_fragment
from web.templating import render

log = logging.getLogger("crm.errors")

STATUS = {
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.FORBIDDEN: 403,
    ErrorKind.CONFLICT: 409,
    ErrorKind.UNAUTHENTICATED: 401,
    ErrorKind.INVALID: 422,
    ErrorKind.MALFORMED: 400,
    ErrorKind.PBX_FAILED: 502,
    ErrorKind.UNAVAILABLE: 503,
    ErrorKind.TOO_MANY: 429,
}

Answer = Callable[[Request, int, str, Mapping[str, str] | None], Response]
Handler = Callable[[Request, Exception], Awaitable[Response]]


def _titles() -> dict[int, str]:
    return {
        400: _("Неверный запрос"),
        401: _("Нужно войти"),
        403: _("Нет доступа"),
        404: _("Страница не найдена"),
        405: _("Метод не поддерживается"),
        409: _("Действие невозможно"),
        413: _("Слишком большой запрос"),
        415: _("Такую форму сервер не принимает"),
        422: _("Проверьте данные"),
        429: _("Слишком много запросов"),
        502: _("АТС не ответила как нужно"),
        503: _("Сервис временно недоступен"),
        500: _("Что-то пошло не так"),
    }


def page_answer(
    request: Request, status: int, message: str, details: Mapping[str, str] | None = None
) -> Response:
    """For people: an error page, or for htmx a fragment the page shows as an alert."""
    title = _titles().get(status, _("Ошибка"))
    context = {"status": status, "title": title, "message": message or title}
    if wants_fragment(request):
        return render(request, "errors/_alert.html", context, status_code=status)
    return render(request, "errors/error.html", context, status_code=status)


def json_answer(
    request: Request, status: int, message: str, details: Mapping[str, str] | None = None
) -> Response:
    """For machines: `{"error": "…"}`, with `details` per field when there are any."""
    body: dict[str, Any] = {"error": message or _titles().get(status, _("Ошибка"))}
    if details:
        body["details"] = dict(details)
    return JSONResponse(body, status_code=status)


def crm_error_message(exc: CrmError) -> str:
    """What the answer says: a validation error names its fields (machines need them)."""
    if isinstance(exc, ValidationError) and exc.kind is ErrorKind.INVALID:
        return str(exc)
    return exc.message


def handlers(answer: Answer) -> dict[Any, Handler]:
    """The exception handlers of one side of the app, answering in its representation."""

    async def crm_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, CrmError)
        details = exc.errors if isinstance(exc, ValidationError) else None
        response = answer(request, STATUS[exc.kind], crm_error_message(exc), details)
        if isinstance(exc, TooManyRequests):
            response.headers["Retry-After"] = str(exc.retry_after)
        if isinstance(exc, StorageUnavailable):  # a PBX or a program simply sends it again
            log.error("%s %s: %s", request.method, request.url.path, exc.__cause__ or exc.reason)
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        messages = {
            404: _("Такой страницы нет. Проверьте адрес или вернитесь к списку клиентов."),
            405: _("Этот адрес так не используется."),
        }
        return answer(request, exc.status_code, messages.get(exc.status_code, exc.detail), None)

    return {CrmError: crm_error, HTTPException: http_error}


async def not_authenticated(request: Request, exc: Exception) -> Response:
    """No one is signed in: to the login page (people only; machines carry their own keys)."""
    assert isinstance(exc, NotAuthenticated)
    if "text/event-stream" in request.headers.get("accept", ""):
        # A live stream (web/sse.py): an EventSource cannot follow a redirect to the login
        # page; the page's next navigation will.
        return PlainTextResponse(_("Нужно войти"), status_code=401)
    if wants_fragment(request):
        # A full-page redirect: the session ended while the page was open.
        return Response(status_code=204, headers={"HX-Redirect": exc.login_url})
    return RedirectResponse(exc.login_url, status_code=303)


BROWSER_HANDLERS = {**handlers(page_answer), NotAuthenticated: not_authenticated}
MACHINE_HANDLERS = handlers(json_answer)


class UnexpectedErrors:
    """The last resort: an exception nothing else answered is logged once (one traceback,
    with method and path) and answered with a 500 in the side's representation. It is not
    raised further, so neither Starlette nor the server logs it a second time."""

    def __init__(self, app: ASGIApp, answer: Answer) -> None:
        self.app, self.answer = app, answer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            log.exception("unexpected error on %s %s", scope["method"], scope["path"])
            if not started:
                request = Request(scope)
                message = _("Мы уже знаем о проблеме. Попробуйте ещё раз через минуту.")
                await self.answer(request, 500, message, None)(scope, receive, send)
