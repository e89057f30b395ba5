"""What the browser is told it may do (issue 11, item 9), added to every answer.

People's pages get a Content-Security-Policy that allows no inline script, no inline style
and no eval: every script is a file under /static (htmx, its SSE extension, static/app.js),
htmx is told not to inject its indicator <style> and not to eval anything (the htmx-config
meta in templates/base.html), and no template has an event-handler attribute, a `javascript:`
URL or `hx-on`. Call recordings play from the PBX's own links, so media may come from any
http(s) address. Pages may not be framed, and send no Referer to other sites. Pages that show
a key (Настройки: the API key; Телефония: the CRM key) are not kept in any cache.

Machines' answers and people's pages alike are marked `nosniff`, and, when the app is
published over https (`PUBLIC_URL`), carry HSTS."""

from __future__ import annotations

from collections.abc import Iterable

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "media-src 'self' https: http:",  # recordings: links the PBX sends
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "frame-ancestors 'none'",
        "base-uri 'self'",
        "form-action 'self'",
    ]
)
PAGE_HEADERS = {
    "Content-Security-Policy": PAGE_POLICY,
    "X-Frame-Options": "DENY",  # frame-ancestors, for browsers that predate it
    "Referrer-Policy": "same-origin",
}
HSTS = "max-age=31536000"  # a year; subdomains are not ours to decide


class SecurityHeaders:
    """Adds the headers to each HTTP answer that does not set them itself; answers under
    `no_store` paths get `Cache-Control: no-store`."""

    def __init__(
        self, app: ASGIApp, *, pages: bool = False, hsts: bool = False, no_store: Iterable[str] = ()
    ) -> None:
        self.app = app
        headers = {"X-Content-Type-Options": "nosniff"}
        if hsts:
            headers["Strict-Transport-Security"] = HSTS
        if pages:
            headers.update(PAGE_HEADERS)
        self.headers = list(headers.items())
        self.no_store = tuple(path.rstrip("/") for path in no_store)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        private = any(path == p or path.startswith(p + "/") for p in self.no_store)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers:
                    headers.setdefault(name, value)
                if private:
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)
