"""Per-request language: a cookie chosen in the footer, Russian when there is none."""

from __future__ import annotations

from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Receive, Scope, Send

from core.i18n import DEFAULT_LANGUAGE, LANGUAGES, use_language

COOKIE = "crm_language"


def language_of(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            language = cookie_parser(value.decode("latin-1")).get(COOKIE)
            if language in LANGUAGES:
                return language
    return DEFAULT_LANGUAGE


class LanguageMiddleware:
    """Runs every request in the language its cookie names."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with use_language(language_of(scope)):
            await self.app(scope, receive, send)
