"""Request bodies are limited before they are read.

`BodyLimit` lets at most `limit` bytes of a body reach the app: a `Content-Length` over it is
answered `413` at once, before a byte of the body is read, and a body sent without one
(chunked) is cut off with the same `413` as soon as it crosses the limit. The machines' routes
take kilobytes (`web/payload.py`), people's forms a megabyte (`MAX_FORM_BODY`).

`FormBodies`, on people's side, reads a form's body whole before anything else does, so that
no parser (asgi-csrf's adds bytes to bytes, chunk by chunk) sees it in tiny pieces. It refuses
what the CSRF check cannot read: a form that is not UTF-8, and multipart (asgi-csrf 0.11 calls
python-multipart with an argument it no longer has; the app's own forms are never multipart).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.i18n import gettext as _

Answer = Callable[[Request, int, str, Mapping[str, str] | None], Response]

MAX_FORM_BODY = 1024 * 1024  # people's forms: a note or a bot reaction is a few kilobytes

_WITHOUT_BODY = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class BodyTooLarge(Exception):
    """The body crossed the limit while it was being read."""


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None  # h11 and httptools checked it
    return None


class BodyLimit:
    """At most `limit` bytes of a request body reach the app; more is a `413`."""

    def __init__(self, app: ASGIApp, limit: int, answer: Answer) -> None:
        self.app, self.limit, self.answer = app, limit, answer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            await self._too_large(scope, receive, send)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await self._too_large(scope, receive, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = _("Запрос больше {limit} КБ — сервер такие не принимает.").format(
            limit=self.limit // 1024
        )
        response = self.answer(Request(scope), 413, message, None)
        # The rest of the body is not read: the connection closes after the answer.
        response.headers["Connection"] = "close"
        await response(scope, receive, send)


class FormBodies:
    """People's side: a body is read whole (within `BodyLimit`'s limit) and replayed as one
    piece; a form that is not UTF-8 is a `400`, a multipart body a `415`."""

    def __init__(self, app: ASGIApp, answer: Answer) -> None:
        self.app, self.answer = app, answer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in _WITHOUT_BODY:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        content_type = _content_type(scope)
        if content_type == "multipart/form-data":
            refusal = _("Форму нужно отправить со страницы CRM: такой вид формы не принимается.")
            await self.answer(Request(scope), 415, refusal, None)(scope, receive, send)
            return
        if content_type == "application/x-www-form-urlencoded" and not _is_utf8(body):
            refusal = _("Форма пришла не в кодировке UTF-8. Отправьте её со страницы CRM.")
            await self.answer(Request(scope), 400, refusal, None)(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # then whatever comes next (a disconnect)

        await self.app(scope, replay, send)


def _content_type(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"content-type":
            media_type: bytes = value.split(b";", 1)[0].strip().lower()
            return media_type.decode("latin-1")
    return ""


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
