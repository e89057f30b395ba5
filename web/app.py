"""The composition root: `create_app(settings)` wires database, middleware and routes."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import logging.config
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from asgi_csrf import asgi_csrf
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.routing import Match, Mount, Router
from starlette.types import Message, Scope, Send

from core import events, sessions, setup_code
from core.bots import BotRunner
from core.db import Database
from core.i18n import gettext as _
from core.live import Hub, make_bus
from core.migrations import migrate
from core.passwords import Passwords
from core.telephony import inbox, public_address, reconciliation, recordings, wrong_tokens
from core.telephony.pbx_directory import Refresher
from web import logs
from web.body_limits import MAX_FORM_BODY, BodyLimit, FormBodies
from web.config import Settings
from web.errors import (
    BROWSER_HANDLERS,
    MACHINE_HANDLERS,
    UnexpectedErrors,
    json_answer,
    page_answer,
)
from web.i18n import LanguageMiddleware
from web.routes import browser_routes, machine_routes
from web.security_headers import SecurityHeaders
from web.throttle import LoginThrottle

log = logging.getLogger("crm")


def create_app(settings: Settings) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        async with (
            Database(settings.database_url) as db,
            httpx.AsyncClient(
                # public addresses only, checked for the address connected to (issue 11)
                transport=public_address.transport(allow_private=settings.pbx_allow_private),
                follow_redirects=False,
                timeout=settings.pbx_timeouts,
            ) as pbx_http,
        ):
            await migrate(db)
            await _make_setup_code(db)
            hub = Hub()  # this process's open live streams
            bus = make_bus(hub, db.url, settings.redis_url)
            db.after_commit = bus.publish
            await bus.start()
            housekeeping = [
                asyncio.create_task(_forget_old_events(db)),
                asyncio.create_task(_forget_ended_sessions(db, settings)),
                asyncio.create_task(_collect_garbage_calmly()),
            ]
            # Everything loaded so far lives as long as the process: keep it out of the
            # cyclic collector's way, so collections stay short under load.
            gc.collect()
            gc.freeze()
            runner = BotRunner(db, pbx_http)
            bots = asyncio.create_task(runner.run_forever())
            throttle = LoginThrottle(
                settings.login_limits, settings.redis_url, settings.login_limits_prefix
            )
            wrong_token_tally = wrong_tokens.Tally()  # counted, not stored (issue 11, item 8)
            housekeeping += [
                asyncio.create_task(_forget_old_deliveries(db, settings)),
                asyncio.create_task(_count_wrong_tokens(db, wrong_token_tally)),
            ]
            if settings.pbx_sync_minutes > 0:  # «Сверка с АТС» (issue 13)
                housekeeping.append(
                    asyncio.create_task(
                        reconciliation.run_forever(db, pbx_http, settings.pbx_sync_minutes)
                    )
                )
            if settings.recordings is not None:  # the CRM's copies of call recordings
                housekeeping.append(
                    asyncio.create_task(recordings.run_forever(db, pbx_http, settings.recordings))
                )
            pbx_users = Refresher(db, pbx_http)
            yield {
                "db": db,
                "passwords": Passwords(
                    cheap=settings.cheap_passwords,
                    checks=settings.password_checks,
                    wait=settings.password_wait,
                ),
                "throttle": throttle,  # failed sign-ins (web/throttle.py)
                "wrong_tokens": wrong_token_tally,  # webhooks with a wrong token
                "settings": settings,
                "pbx_http": pbx_http,  # one connection pool for every call to the PBX
                "pbx_directory": pbx_users,  # the PBX's employees, read for «Сотрудники»
                "hub": hub,
            }
            hub.close_all()  # open streams end now, cleanly (see web/sse.py)
            await pbx_users.close()
            for task in housekeeping:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await reconciliation.stop_background()  # each gives its lease back
            with contextlib.suppress(Exception):
                await wrong_token_tally.flush(db)
            runner.stop()
            try:
                await asyncio.wait_for(bots, settings.pbx_timeout + 5)
            except TimeoutError:
                log.warning("a bot reaction was still running at shutdown")
            await bus.stop()
            await throttle.aclose()
            db.after_commit = None

    return Starlette(
        routes=[*machine_routes, _PeoplesSide(settings)],
        middleware=[
            Middleware(SecurityHeaders, hsts=settings.https_only_cookies),
            Middleware(UnexpectedErrors, answer=json_answer),
        ],
        exception_handlers=MACHINE_HANDLERS,
        lifespan=lifespan,
    )


class _PeoplesSide(Mount):
    """People's pages, with what they need and machines do not: a signed session, CSRF
    protection, their language, error pages. A path nobody has is theirs too (a 404 page),
    except where the machines' side has a say: a machine's path asked the wrong way (a PUT to
    `/megafon_webhook`) is answered 405 in JSON, and one with a slash too many or too few
    (`/megafon_webhook/`) is redirected to it, as Starlette's router does."""

    def __init__(self, settings: Settings) -> None:
        super().__init__("", routes=browser_routes, middleware=_browser_middleware(settings))

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        if match is not Match.FULL or self._any_match({**scope, **child_scope}):
            return match, child_scope
        path = scope["path"]
        other = {**scope, "path": path[:-1] if path.endswith("/") else path + "/"}
        if any(r.matches(other)[0] is not Match.NONE for r in machine_routes):
            return Match.NONE, {}  # the router redirects to the machines' spelling
        return Match.PARTIAL, child_scope  # a 404 page, unless someone else matched at all

    def _any_match(self, scope: Scope) -> bool:
        return any(route.matches(scope)[0] is not Match.NONE for route in self.routes)


def _browser_middleware(settings: Settings) -> list[Middleware]:
    pages = Router(browser_routes)
    return [
        # Pages that show a key (the API key, the CRM key) are kept in no cache.
        Middleware(
            SecurityHeaders,
            pages=True,
            no_store=[pages.url_path_for("settings"), pages.url_path_for("telephony")],
        ),
        Middleware(UnexpectedErrors, answer=page_answer),
        Middleware(BodyLimit, limit=MAX_FORM_BODY, answer=page_answer),
        Middleware(FormBodies, answer=page_answer),  # whole and readable before the CSRF check
        Middleware(
            SessionMiddleware,
            secret_key=settings.secret_key,
            session_cookie="crm_session",
            same_site="lax",
            https_only=settings.https_only_cookies,
            # The cookie holds a session's token only; the server decides when it ends.
            max_age=int(settings.session_lifetime.absolute.total_seconds()),
        ),
        Middleware(
            asgi_csrf,
            send_csrf_failed=_csrf_failed,
            signing_secret=settings.secret_key,
            always_protect={pages.url_path_for("login"), pages.url_path_for("setup")},
            cookie_secure=settings.https_only_cookies,
        ),
        Middleware(LanguageMiddleware),
        # The same handlers as the machines' side, answering with pages (web/errors.py)
        Middleware(ExceptionMiddleware, handlers=BROWSER_HANDLERS),
    ]


async def _make_setup_code(db: Database) -> None:
    """A fresh install's setup code, made once for all processes. `python -m web serve` has
    printed it already; started any other way (`uvicorn --factory`), the log shows it."""
    issued = await setup_code.ensure(db)
    if issued is not None and issued[1]:
        log.warning("setup code: %s (enter it on the /setup page to create the project)", issued[0])


async def _forget_old_events(db: Database) -> None:
    """Live events are kept for two days: a page away longer reloads instead of replaying."""
    while True:
        try:
            await events.purge(db)
        except Exception:  # a busy database now is no reason to stop trying later
            log.exception("could not forget old live events")
        await asyncio.sleep(3600)


async def _forget_old_deliveries(db: Database, settings: Settings) -> None:
    """«Журнал вебхуков» keeps `WEBHOOK_JOURNAL_DAYS` days and `WEBHOOK_JOURNAL_MAX` rows per
    project; checked every minute, so a flood of bad webhooks is cut back soon."""
    while True:
        try:
            await inbox.purge_journal(
                db, keep_days=settings.webhook_journal_days, keep_rows=settings.webhook_journal_max
            )
            await wrong_tokens.purge(db)
        except Exception:  # a busy database now is no reason to stop trying later
            log.exception("could not forget old webhook deliveries")
        await asyncio.sleep(60)


WRONG_TOKENS_FLUSH = 2.0  # seconds


async def _count_wrong_tokens(db: Database, tally: wrong_tokens.Tally) -> None:
    """A flood of wrong-token webhooks costs one write every few seconds, not one each."""
    while True:
        await asyncio.sleep(WRONG_TOKENS_FLUSH)
        try:
            await tally.flush(db)
        except Exception:
            log.exception("could not count wrong-token webhooks")


async def _forget_ended_sessions(db: Database, settings: Settings) -> None:
    """Expired sessions let no one in already; their rows are deleted every hour."""
    while True:
        try:
            await sessions.purge(db, settings.session_lifetime)
        except Exception:  # a busy database now is no reason to stop trying later
            log.exception("could not forget expired sessions")
        await asyncio.sleep(3600)


FREEZE_EVERY, FULL_COLLECTION_EVERY = 30.0, 600.0  # seconds


async def _collect_garbage_calmly() -> None:
    """Open live streams are long-lived objects (about 220 each): with 1,000 of them a full
    collection of the cyclic garbage collector took 150 ms, every minute or so under load,
    and stalled every request meanwhile (bench/sse.py's p99). Objects that lived through
    30 seconds are moved out of its scans (`gc.freeze`); every 10 minutes they are put back
    and collected once, so that cyclic garbage among them (ended streams) is still freed."""
    since_full = 0.0
    while True:
        await asyncio.sleep(FREEZE_EVERY)
        since_full += FREEZE_EVERY
        if since_full >= FULL_COLLECTION_EVERY:
            gc.unfreeze()
            gc.collect()
            since_full = 0.0
        gc.freeze()


def from_environ() -> Starlette:
    """The app configured from the environment: the factory uvicorn's worker processes import
    (`uvicorn --factory web.app:from_environ` works too, with the app's own logging)."""
    settings = Settings.from_environ()
    logging.config.dictConfig(logs.config(settings.log_level))
    return create_app(settings)


async def _csrf_failed(scope: Scope, send: Send, reason: object) -> None:
    """A form whose CSRF token does not match its cookie (a page kept open across a cookie
    change, a request forged elsewhere): a page in the user's words, not asgi-csrf's English
    text. The reason stays in the log."""
    log.info("CSRF check failed: %s", reason)
    request = Request(scope)
    message = _("Страница устарела. Обновите её и повторите действие.")
    await page_answer(request, 403, message)(scope, _nothing_to_receive, send)


async def _nothing_to_receive() -> Message:
    return {"type": "http.disconnect"}
