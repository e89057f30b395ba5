"""The live stream of an open page: `GET /events`, one per tab, Server-Sent Events.

A page follows its employee's popups and, on a client card, that client (`?client=<id>`). Each
event is rendered with the fragment the page itself is made of, and carries its `live_events` id:
after a dropped connection or a restart the browser reconnects with `Last-Event-ID` (or the
page's `?after=` cursor) and gets what it missed, in order. See `core.events` and `core.live`.

SSE event names are what the page's `sse-swap` attributes listen for: `message` (appended to
the dialog), `call` (a call's item in the dialog, appended or anew in its place), `variables`
(the card's block anew), `journal-call` (a row of
«Звонки», `?journal=1` with the page's filters), `missed` (the nav's count of
«Пропущенные»; the queue page re-reads itself on it), `popup` and `popup-close` (the
incoming-call popup), `reload` (too much was missed: reload the page).

A stream lives no longer than its session: ending a session announces its employee's topic, so
the stream wakes (in whichever process holds it), finds the session gone, tells the page to
`reload` (which leads to the sign-in page) and ends; a reconnection would be refused (401). A
stream re-checks at least every `session_check` seconds too, in case an announcement was lost.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Any

from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.requests import Request
from starlette.responses import Response

from core import clients, dialogs, events, sessions, variables
from core.errors import NotFound
from core.live import Subscription
from core.telephony import call_journal, calls, dialog_calls, missed_calls, missed_queue
from web.auth import login_required
from web.forms import query_int
from web.ids import parse_id
from web.templating import fragment
from web.views.calls import journal_filter

REPLAY_LIMIT = 500  # more missed than this: the page reloads instead
RETRY_MS = 1000  # how soon a browser reconnects after the stream drops
POPUP_WITHIN = timedelta(minutes=10)  # no ringing lasts longer
RECHECK_EVERY = 15.0  # seconds: a stream reads its topics at least this often (core/live.py)
SIGNED_OUT_LINGER = 3.0  # seconds a signed-out stream waits for its page to reload and leave
RELOAD = ServerSentEvent("reload", event="reload")  # browsers dispatch no event without data


def _cursor(request: Request) -> int | None:
    """Where the page is: the id it last received (`Last-Event-ID`, sent by the browser on
    reconnecting), else the `after` id its HTML was rendered at."""
    header = parse_id(request.headers.get("last-event-id", ""))
    if header is not None:
        return header
    return query_int(request, "after")


@login_required
async def stream(request: Request) -> Response:
    """A page's live stream; signed out, it is a 401 (`web/errors.py`), not a redirect."""
    db, user = request.state.db, request.state.user
    client_id = query_int(request, "client")
    if client_id is not None:
        await clients.get_client(db, user["project_id"], client_id)  # theirs, or 404
    after = _cursor(request)
    if after is None:
        after = await events.latest_id(db)
    topics = events.page_topics(user["project_id"], user["id"], client_id)
    if request.query_params.get("journal") and client_id is None:  # «Звонки» (its filters too)
        topics = (*topics, call_journal.journal_topic(user["project_id"]))
    subscription = Subscription(request.state.hub, topics)
    return EventSourceResponse(
        _events(request, subscription, after),
        ping=request.state.settings.sse_ping,
        send_timeout=30,  # a client that stopped reading is dropped, not buffered for
        # On shutdown sse-starlette wakes it, a clean end. It only calls `set()`, though its
        # annotation asks for an `anyio.Event`.
        shutdown_event=subscription,  # type: ignore[arg-type]
        shutdown_grace_period=2,
    )


async def _events(
    request: Request, subscription: Subscription, after: int
) -> AsyncIterator[ServerSentEvent]:
    db, settings = request.state.db, request.state.settings
    session_id, lifetime = request.state.session["id"], settings.session_lifetime
    wait_at_most = min(RECHECK_EVERY, settings.session_check)
    clock = asyncio.get_running_loop().time
    request.state.hub.add(subscription)
    try:
        yield ServerSentEvent(comment="connected", retry=RETRY_MS)
        async with db.reading():
            if not await events.can_replay(db, after):
                yield RELOAD
                return
            # Popups still ringing from before `after`; later ones come with the replay below.
            popups = await events.open_popups(db, subscription.topics[:2], POPUP_WITHIN)
            ready = await _rendered(request, [e for e in popups if e.id <= after])
        for sse in ready:
            yield sse
        cursor, checked = after, clock()
        while True:
            # Read and render on one connection, then send: a slow reader holds no connection.
            async with db.reading():
                batch = await events.since(db, subscription.topics, cursor, REPLAY_LIMIT + 1)
                signed_out = False
                # Woken with nothing to show: perhaps the session has ended (or time is up).
                if not batch or clock() - checked >= settings.session_check:
                    signed_out = not await sessions.is_open(db, session_id, lifetime)
                    checked = clock()
                if signed_out:
                    ready = [RELOAD]  # the page reloads, onto the sign-in page
                elif len(batch) > REPLAY_LIMIT:
                    ready = [RELOAD]
                else:
                    ready = await _rendered(request, events.coalesce(batch))
            for sse in ready:
                yield sse
            if signed_out:
                await _linger(subscription, SIGNED_OUT_LINGER)
            if ready and ready[-1] is RELOAD:
                return
            if batch:
                cursor = batch[-1].id
            if not await subscription.wait(at_most=wait_at_most):
                return  # the server is shutting down: end the response cleanly
    finally:
        subscription.close()


async def _linger(subscription: Subscription, seconds: float) -> None:
    """Keep the stream open a little while the page reloads: a browser whose stream the server
    closed first would report a dropped connection on the page it is leaving."""
    deadline = asyncio.get_running_loop().time() + seconds
    while (left := deadline - asyncio.get_running_loop().time()) > 0:
        if not await subscription.wait(at_most=left):
            return  # the server is shutting down


async def _rendered(request: Request, batch: list[events.Event]) -> list[ServerSentEvent]:
    return [sse for event in batch if (sse := await _render(request, event))]


async def _render(request: Request, event: events.Event) -> ServerSentEvent | None:
    """The event as its fragment; None when there is nothing to show (browsers dispatch no
    event without data)."""
    name, html = await RENDERERS[event.name](request, event.data)
    return ServerSentEvent(html, event=name, id=str(event.id)) if html else None


def _project(request: Request) -> int:
    project_id: int = request.state.user["project_id"]
    return project_id


async def _message(request: Request, data: Mapping[str, Any]) -> tuple[str, str]:
    if data.get("call_id") is not None:  # shown inside its call's item
        return await _call(request, data)
    message = await dialogs.get_message(request.state.db, _project(request), data["message_id"])
    if message is None:
        return "message", ""  # deleted since: nothing to add
    return "message", fragment(request, "clients/_message.html", {"message": message})


async def _variables(request: Request, data: Mapping[str, Any]) -> tuple[str, str]:
    db, client_id = request.state.db, data["client_id"]
    context = {
        "client": {"id": client_id},
        "variables": await variables.list_variables(db, client_id),
    }
    return "variables", fragment(request, "clients/_variables.html", context)


async def _call(request: Request, data: Mapping[str, Any]) -> tuple[str, str]:
    """The call's item in the dialog, as the page renders it: the page appends it, or replaces
    the one it shows (static/app.js)."""
    db, call_id = request.state.db, data.get("call_id")
    item = await dialog_calls.call_item(db, _project(request), call_id) if call_id else None
    if item is None or item.call["client_id"] != data["client_id"]:
        return "call", ""  # an event from before calls were named, or not this card's call
    context = {"item": item, "staff_names": await calls.employee_names(db, _project(request))}
    return "call", fragment(request, "clients/_call_item.html", context)


async def _journal_call(request: Request, data: Mapping[str, Any]) -> tuple[str, str]:
    """A call of «Звонки» as its row, when the page's filters show it."""
    f, _ = await journal_filter(request)
    row = await call_journal.journal_row(request.state.db, _project(request), data["call_id"], f)
    if row is None:
        return "journal-call", ""
    return "journal-call", fragment(request, "calls/_row.html", {"row": row})


async def _popup(request: Request, data: Mapping[str, Any]) -> tuple[str, str]:
    try:
        client = await clients.get_client(request.state.db, _project(request), data["client_id"])
    except NotFound:
        client = None
    context = {"call_id": data["call_id"], "client": client, "phone": data["phone"]}
    return "popup", fragment(request, "calls/_popup.html", context)


async def _popup_close(request: Request, data: Mapping[str, Any]) -> tuple[str, str]:
    return "popup-close", f"call-popup-{data['call_id']}"


async def _missed(request: Request, data: Mapping[str, Any]) -> tuple[str, str]:
    """«Пропущенные» changed: the nav's count anew (the queue page re-reads itself on it)."""
    count = await missed_queue.open_count(request.state.db, _project(request))
    return "missed", fragment(request, "missed/_count.html", {"missed_open": count})


Renderer = Callable[[Request, Mapping[str, Any]], Awaitable[tuple[str, str]]]
RENDERERS: dict[str, Renderer] = {
    events.MESSAGE_CREATED: _message,
    events.VARIABLES_CHANGED: _variables,
    events.CALL_UPDATED: _call,
    events.CALL_INCOMING: _popup,
    events.CALL_ENDED: _popup_close,
    call_journal.CALL_LOGGED: _journal_call,
    missed_calls.MISSED_CHANGED: _missed,
}
