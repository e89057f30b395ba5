"""A MegaFon virtual PBX on your own machine, for development, demos and end-to-end tests.

It answers the CRM → PBX API (PROTOCOL.md §2: REST v1 and the legacy `/sys/crm_api.wcgp`)
and plays calls to the CRM as form-urlencoded webhooks (§1), one step every `step_delay`
seconds, the way the real PBX does. `/simulator/...` lets a test or a person start calls,
make the API slow or failing, and see what was asked and what was sent.
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import html
import json
import math
import random
import re
import struct
import uuid
import wave
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import cache
from http import HTTPStatus
from io import BytesIO
from typing import Any
from urllib.parse import quote

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Route

Fields = dict[str, str]

DEMO_API_KEY = "sim-token"
COMPANY_NUMBER = "74950000000"  # the number clients dial; sent as `diversion` on inbound calls
DEFAULT_PHONE = "79161234567"
TALK_SECONDS = 42
SCENARIOS = {
    "answered": "Входящий, ответили",
    "missed": "Входящий, пропущен",
    "transferred": "Входящий, переведён",
    "busy": "Исходящий, занято",
    "not_available": "Исходящий, недоступен",
    "unknown_caller": "Звонит новый номер",
}
OUTCOMES = ("Success", "Busy", "NotAvailable", "Missed")
REST, LEGACY = "rest", "legacy"
_DIGITS = re.compile(r"[0-9]{1,32}")  # the PBX rejects a leading "+" (PROTOCOL.md §2.3)


def _default_users() -> list[dict[str, str]]:
    return [
        {
            "login": "admin",
            "name": "Анна Администратор",
            "ext": "700",
            "telnum": "74950000700",
            "email": "admin@vats.example",
            "role": "admin",
        },
        {
            "login": "ivanov",
            "name": "Иван Иванов",
            "ext": "701",
            "telnum": "74950000701",
            "email": "ivanov@vats.example",
            "role": "user",
        },
        {
            "login": "sidorova",
            "name": "Мария Сидорова",
            "ext": "702",
            "telnum": "74950000702",
            "email": "sidorova@vats.example",
            "role": "user",
        },
    ]


@dataclass
class SimulatorConfig:
    api_key: str
    crm_url: str = ""
    crm_key: str = ""
    public_url: str = ""
    step_delay: float = 1.0
    rest: bool = True
    users: list[dict[str, str]] = field(default_factory=_default_users)


@dataclass
class Behaviour:
    """How the PBX API misbehaves right now; changed through `/simulator/behaviour`."""

    delay: float = 0.0
    fail_status: int = 0
    outcome: str = "Success"


def create_simulator(config: SimulatorConfig) -> Starlette:
    """The simulator as an ASGI app; serve it with uvicorn (or `tests/live_server.py`)."""
    if not config.users:
        raise ValueError("the simulator needs at least one PBX user")
    sim = _Simulator(config)
    routes = [
        Route("/", sim.page, name="simulator_page"),
        Route("/crmapi/v1/makecall", sim.rest_makecall, methods=["POST"], name="rest_makecall"),
        Route("/crmapi/v1/users", sim.rest_users, name="rest_users"),
        Route("/sys/crm_api.wcgp", sim.legacy, methods=["GET", "POST"], name="legacy_api"),
        Route("/records/{callid}.wav", sim.record, name="record"),
        Route("/simulator/scenario", sim.scenario, methods=["POST"], name="scenario"),
        Route("/simulator/behaviour", sim.behaviour_view, methods=["POST"], name="behaviour"),
        Route("/simulator/calls", sim.calls_view, name="calls"),
        Route("/simulator/log", sim.log_view, name="log"),
    ]
    if not config.rest:
        # A PBX with only the legacy API has no such paths: Starlette's plain-text 404.
        routes = [r for r in routes if not r.path.startswith("/crmapi/")]
    return Starlette(routes=routes, lifespan=sim.lifespan)


class _Simulator:
    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.behaviour = Behaviour()
        self.calls: deque[dict[str, str]] = deque(maxlen=1000)
        self.log: deque[dict[str, Any]] = deque(maxlen=2000)
        self.http: httpx.AsyncClient | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    @asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        async with httpx.AsyncClient(timeout=5.0) as http:
            self.http = http
            try:
                yield
            finally:
                for task in self.tasks:
                    task.cancel()
                await asyncio.gather(*self.tasks, return_exceptions=True)
                self.http = None

    # --- the PBX API -------------------------------------------------------------------

    async def rest_makecall(self, request: Request) -> Response:
        """REST v1 click-to-call: ring the employee, then the client."""
        return await self._api(request, self._rest_makecall)

    async def _rest_makecall(self, request: Request) -> Response:
        if not self._rest_key_ok(request):
            return JSONResponse({"message": "Invalid token"}, status_code=401)
        fields = await _fields(request)
        wanted, phone = fields.get("user", ""), fields.get("phone", "")
        if not wanted or not _DIGITS.fullmatch(phone):
            return JSONResponse({"message": "Invalid parameters"}, status_code=400)
        user = self.find_user(wanted)
        if user is None:
            return JSONResponse({"message": "User not found"}, status_code=404)
        return JSONResponse({"callid": self._make_call(request, REST, wanted, user, phone)})

    async def rest_users(self, request: Request) -> Response:
        """REST v1 employees, with the `search`/`start`/`limit` paging of the real API."""
        return await self._api(request, self._rest_users)

    async def _rest_users(self, request: Request) -> Response:
        if not self._rest_key_ok(request):
            return JSONResponse({"message": "Invalid token"}, status_code=401)
        search = request.query_params.get("search", "")
        start = _int(request.query_params.get("start"), 0)
        limit = _int(request.query_params.get("limit"), 100)
        found = [
            u
            for u in self.config.users
            if search.lower() in " ".join((u["login"], u["name"], u["ext"])).lower()
        ]
        page = found[start : start + limit]
        more = start + limit < len(found)
        info = {
            "search": search,
            "start": start,
            "limit": limit,
            "total": len(found),
            "next": start + limit if more else None,
        }
        return JSONResponse({"items": [_rest_user(u) for u in page], "info": info})

    async def legacy(self, request: Request) -> Response:
        """The legacy API: one URL, `cmd` + `token` as form fields or a query string."""
        return await self._api(request, self._legacy)

    async def _legacy(self, request: Request) -> Response:
        fields = await _fields(request)
        if not _same(fields.get("token", ""), self.config.api_key):
            return JSONResponse({"error": "Invalid token"}, status_code=401)
        cmd = fields.get("cmd", "")
        if cmd == "accounts":
            return JSONResponse(
                [
                    {
                        "name": u["login"],
                        "realName": u["name"],
                        "ext": u["ext"],
                        "telnum": u["telnum"],
                        "email": u.get("email", ""),
                    }
                    for u in self.config.users
                ]
            )
        if cmd == "makeCall":
            wanted, phone = fields.get("user", ""), fields.get("phone", "")
            user = self.find_user(wanted) if wanted else None
            if user is None or not _DIGITS.fullmatch(phone):
                return JSONResponse({"error": "Invalid parameters"}, status_code=400)
            return JSONResponse({"uuid": self._make_call(request, LEGACY, wanted, user, phone)})
        return JSONResponse({"error": "Invalid parameters: [cmd]"}, status_code=400)

    async def _api(
        self, request: Request, handler: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        behaviour = self.behaviour
        if behaviour.delay > 0:
            await asyncio.sleep(behaviour.delay)
        if behaviour.fail_status:
            # A failing PBX answers its gateway's plain text, not JSON (PROTOCOL.md §2.1).
            status = behaviour.fail_status
            return PlainTextResponse(f"{status} {_phrase(status)}", status_code=status)
        return await handler(request)

    def _rest_key_ok(self, request: Request) -> bool:
        return _same(request.headers.get("x-api-key", ""), self.config.api_key)

    def find_user(self, wanted: str) -> dict[str, str] | None:
        """The employee by login, `login@domain`, extension or direct number."""
        wanted = wanted.strip()
        login = wanted.split("@", 1)[0]
        for user in self.config.users:
            if login == user["login"] or wanted in (user["ext"], user["telnum"]):
                return user
        return None

    def _make_call(
        self, request: Request, api: str, wanted: str, user: dict[str, str], phone: str
    ) -> str:
        callid = str(uuid.uuid4())
        self.calls.append({"callid": callid, "user": wanted, "phone": phone, "api": api})
        call = _Call(callid, phone, self._recordings(request))
        self._play_later(call.outbound(user, self.behaviour.outcome))
        return callid

    async def record(self, request: Request) -> Response:
        """A call recording: the same short tone for every call."""
        return Response(_tone_wav(), media_type="audio/wav")

    # --- playing calls -----------------------------------------------------------------

    def _recordings(self, request: Request) -> str:
        base = self.config.public_url or str(request.base_url)
        return base.rstrip("/") + "/records"

    def _play_later(self, steps: list[Fields]) -> None:
        task = asyncio.create_task(self._play(steps))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _play(self, steps: list[Fields]) -> None:
        for fields in steps:
            await asyncio.sleep(self.config.step_delay)
            await self._send(fields)

    async def _send(self, fields: Fields) -> None:
        sent = {**fields, "crm_token": self.config.crm_key}
        entry: dict[str, Any] = {"fields": sent, "status": None, "error": ""}
        if not self.config.crm_url or self.http is None:
            entry["error"] = "адрес CRM не задан, вебхук не отправлен"
        else:
            try:
                response = await self.http.post(self.config.crm_url, data=sent)
            except Exception as e:  # a broken or absent CRM must never stop the simulator
                entry["error"] = f"{type(e).__name__}: {e}".rstrip(": ")
            else:
                entry["status"] = response.status_code
                if not response.is_success:
                    entry["error"] = response.text[:200]
        self.log.append(entry)

    # --- control -----------------------------------------------------------------------

    async def scenario(self, request: Request) -> Response:
        """Play a scenario call; a form from the page is redirected back to it."""
        fields = await _fields(request)
        name = fields.get("scenario", "")
        if name not in SCENARIOS:
            return _control_error(request, fields, f"Неизвестный сценарий: {name!r}")
        user = self.find_user(fields.get("user") or self.config.users[0]["login"])
        if user is None:
            return _control_error(request, fields, "Нет такого сотрудника")
        phone = fields.get("phone", "").strip()
        if name == "unknown_caller" or not phone:
            phone = (
                "7916" + "".join(random.choices("0123456789", k=7))
                if name == "unknown_caller"
                else DEFAULT_PHONE
            )
        if not _DIGITS.fullmatch(phone):
            return _control_error(request, fields, "Номер клиента — только цифры, без «+»")
        call = _Call(str(uuid.uuid4()), phone, self._recordings(request))
        if name in ("answered", "unknown_caller"):
            steps = call.inbound(user, "Success")
        elif name == "missed":
            steps = call.inbound(user, "Missed")
        elif name == "transferred":
            steps = call.inbound(user, "Success", transfer_to=self._next_user(user))
        else:
            steps = call.outbound(user, "Busy" if name == "busy" else "NotAvailable")
        self._play_later(steps)
        if fields.get("back"):
            return RedirectResponse(request.url_for("simulator_page"), status_code=303)
        return JSONResponse({"callid": call.callid})

    def _next_user(self, user: dict[str, str]) -> dict[str, str]:
        users = self.config.users
        return users[(users.index(user) + 1) % len(users)]

    async def behaviour_view(self, request: Request) -> Response:
        """Make the PBX API slow, failing, or end outbound calls differently."""
        fields = await _fields(request)
        try:
            delay = float(fields.get("delay") or self.behaviour.delay)
            fail_status = int(fields.get("fail_status") or 0) if "fail_status" in fields else None
        except ValueError:
            return _control_error(request, fields, "delay и fail_status — числа")
        outcome = fields.get("outcome") or self.behaviour.outcome
        if not (0 <= delay <= 600 and math.isfinite(delay)) or outcome not in OUTCOMES:
            return _control_error(request, fields, f"delay 0…600 с, outcome из {OUTCOMES}")
        if fail_status is not None and fail_status != 0 and not 400 <= fail_status <= 599:
            return _control_error(request, fields, "fail_status: 0 или 400…599")
        self.behaviour.delay, self.behaviour.outcome = delay, outcome
        if fail_status is not None:
            self.behaviour.fail_status = fail_status
        if fields.get("back"):
            return RedirectResponse(request.url_for("simulator_page"), status_code=303)
        return JSONResponse(asdict(self.behaviour))

    async def calls_view(self, request: Request) -> Response:
        """The makeCall requests the simulator accepted, oldest first."""
        return JSONResponse(list(self.calls))

    async def log_view(self, request: Request) -> Response:
        """The webhooks the simulator sent, oldest first, with the CRM's answer."""
        return JSONResponse(list(self.log))

    async def page(self, request: Request) -> Response:
        """The simulator's page: what to paste into the CRM, call buttons, what happened."""
        domain = (self.config.public_url or str(request.base_url)).rstrip("/")
        return HTMLResponse(_render_page(self, domain, request.query_params.get("error", "")))


@dataclass
class _Call:
    """One call's webhooks (PROTOCOL.md §1, §3): every step carries the same `callid`."""

    callid: str
    phone: str
    recordings: str  # base URL of the recordings
    start: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ"))

    def outbound(self, user: dict[str, str], outcome: str) -> list[Fields]:
        steps = [self._event("OUTGOING", user, "out")]
        if outcome == "Success":
            steps += [self._event("ACCEPTED", user, "out"), self._event("COMPLETED", user, "out")]
        else:
            steps.append(self._event("CANCELLED", user, "out"))
        return [*steps, self._history("out", outcome, user)]

    def inbound(
        self, user: dict[str, str], outcome: str, transfer_to: dict[str, str] | None = None
    ) -> list[Fields]:
        contact = {"cmd": "contact", "phone": self.phone, "callid": self.callid}
        steps = [{**contact, "diversion": COMPANY_NUMBER}, self._event("INCOMING", user, "in")]
        if outcome != "Success":
            steps.append(self._event("CANCELLED", user, "in"))
            return [*steps, self._history("in", outcome, user)]
        steps.append(self._event("ACCEPTED", user, "in"))
        if transfer_to is not None:
            # The transferring employee's event names the other leg (PROTOCOL.md W15);
            # the rest of the call is the second employee's, under the same callid.
            transferred = self._event("TRANSFERRED", user, "in")
            steps.append({**transferred, "second_callid": str(uuid.uuid4())})
            user = transfer_to
        steps.append(self._event("COMPLETED", user, "in"))
        return [*steps, self._history("in", outcome, user)]

    def _event(self, kind: str, user: dict[str, str], direction: str) -> Fields:
        fields = {"cmd": "event", "type": kind, "direction": direction, **self._common(user)}
        if direction == "in":
            fields["diversion"] = COMPANY_NUMBER  # no `diversion` on outbound (PROTOCOL.md W11)
        return fields

    def _history(self, direction: str, status: str, user: dict[str, str]) -> Fields:
        fields = {"cmd": "history", "type": direction, "status": status, **self._common(user)}
        if direction == "in":
            fields["diversion"] = COMPANY_NUMBER
        fields |= {"start": self.start, "duration": str(TALK_SECONDS if status == "Success" else 0)}
        if status == "Success":
            fields["link"] = f"{self.recordings}/{quote(self.callid)}.wav"
        return fields

    def _common(self, user: dict[str, str]) -> Fields:
        return {
            "phone": self.phone,
            "user": user["login"],
            "ext": user["ext"],
            "telnum": user["telnum"],
            "callid": self.callid,
        }


async def _fields(request: Request) -> Fields:
    """Query string plus a form or JSON body, as text; what the real PBX accepts."""
    fields: Fields = dict(request.query_params)
    if request.method != "POST":
        return fields
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        try:
            data = json.loads(await request.body())
        except ValueError:
            data = None
        if isinstance(data, dict):
            fields |= {
                str(k): str(v)
                for k, v in data.items()
                if isinstance(v, (str, int, float)) and not isinstance(v, bool)
            }
        return fields
    async with request.form() as form:
        fields |= {k: v for k, v in form.items() if isinstance(v, str)}
    return fields


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def _int(text: str | None, default: int) -> int:
    try:
        return max(0, int(text)) if text else default
    except ValueError:
        return default


def _rest_user(user: dict[str, str]) -> dict[str, str]:
    return {
        "login": user["login"],
        "name": user["name"],
        "ext": user["ext"],
        "telnum": user["telnum"],
        "mobile": "",
        "email": user.get("email", ""),
        "position": "",
        "role": user.get("role") or ("admin" if user["login"] == "admin" else "user"),
    }


def _control_error(request: Request, fields: Fields, message: str) -> Response:
    if fields.get("back"):
        url = request.url_for("simulator_page").include_query_params(error=message)
        return RedirectResponse(url, status_code=303)
    return JSONResponse({"error": message}, status_code=400)


@cache
def _tone_wav() -> bytes:
    """1.5 s of a 440 Hz tone, 8 kHz mono 16-bit: small, valid, audible."""
    rate, seconds, volume = 8000, 1.5, 8000
    frames = b"".join(
        struct.pack("<h", int(volume * math.sin(2 * math.pi * 440 * i / rate)))
        for i in range(int(rate * seconds))
    )
    buffer = BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(frames)
    return buffer.getvalue()


# --- the page ------------------------------------------------------------------------

_STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;color:#222}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1rem}dt{color:#555}
code,.mono{font-family:ui-monospace,monospace}
form{display:flex;flex-wrap:wrap;gap:.5rem;align-items:end;margin:.5rem 0}
label{display:flex;flex-direction:column;font-size:.85rem;color:#555}
button{padding:.4rem .8rem;cursor:pointer}
table{border-collapse:collapse;width:100%;font-size:.85rem}
th,td{border-bottom:1px solid #ddd;padding:.25rem .4rem;text-align:left;vertical-align:top}
.error{color:#a00}.ok{color:#070}
"""


def _render_page(sim: _Simulator, domain: str, error: str) -> str:
    e = html.escape
    config, behaviour = sim.config, sim.behaviour
    users = "".join(
        f'<option value="{e(u["login"])}">{e(u["name"])} ({e(u["login"])}, {e(u["ext"])})</option>'
        for u in config.users
    )
    buttons = "".join(
        f'<button name="scenario" value="{e(key)}">{e(label)}</button>'
        for key, label in SCENARIOS.items()
    )
    outcomes = "".join(
        f"<option{' selected' if o == behaviour.outcome else ''}>{e(o)}</option>" for o in OUTCOMES
    )
    calls = "".join(
        f"<tr><td class=mono>{e(c['callid'])}</td><td>{e(c['api'])}</td>"
        f"<td>{e(c['user'])}</td><td>{e(c['phone'])}</td></tr>"
        for c in reversed(list(sim.calls)[-20:])
    )
    sent = "".join(_log_row(entry) for entry in reversed(list(sim.log)[-40:]))
    api = "REST v1 и legacy" if config.rest else "только legacy (/crmapi/v1 отвечает 404)"
    crm = e(config.crm_url) if config.crm_url else "<span class=error>не задан (--crm)</span>"
    return f"""<!doctype html>
<html lang="ru"><head><meta charset="utf-8"><title>Симулятор АТС МегаФон</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_STYLE}</style></head>
<body><h1>Симулятор АТС МегаФон</h1>
{f'<p class="error" role="alert">{e(error)}</p>' if error else ""}
<h2>Подключение в CRM (раздел «Телефония»)</h2>
<dl><dt>Megafon domain</dt><dd class="mono">{e(domain)}</dd>
<dt>API token</dt><dd class="mono">{e(config.api_key)}</dd>
<dt>API</dt><dd>{e(api)}</dd>
<dt>Адрес CRM для вебхуков</dt><dd class="mono">{crm}</dd>
<dt>Ключ для авторизации в CRM</dt><dd class="mono">{e(config.crm_key) or "—"}</dd>
<dt>Пауза между вебхуками</dt><dd>{config.step_delay:g} с</dd></dl>
<h2>Сыграть звонок</h2>
<form method="post" action="/simulator/scenario"><input type="hidden" name="back" value="1">
<label>Сотрудник<select name="user">{users}</select></label>
<label>Номер клиента<input name="phone" inputmode="numeric" placeholder="{DEFAULT_PHONE}"></label>
{buttons}</form>
<h2>Поведение API АТС</h2>
<form method="post" action="/simulator/behaviour"><input type="hidden" name="back" value="1">
<label>Задержка ответа, с<input name="delay" value="{behaviour.delay:g}" size="5"></label>
<label>Отвечать ошибкой (0 — нет)<input name="fail_status" value="{behaviour.fail_status}"
 size="5"></label>
<label>Исход звонка из CRM<select name="outcome">{outcomes}</select></label>
<button>Сохранить</button></form>
<h2>Звонки из CRM (makeCall)</h2>
<table><tr><th>callid</th><th>API</th><th>user</th><th>phone</th></tr>{calls}</table>
<h2>Отправленные вебхуки <a href="/">обновить</a></h2>
<table><tr><th>Ответ CRM</th><th>Поля</th></tr>{sent}</table>
</body></html>"""


def _log_row(entry: dict[str, Any]) -> str:
    e = html.escape
    status, error = entry["status"], entry["error"]
    shown = "" if status is None else str(status)
    verdict = "ok" if status is not None and 200 <= status < 300 else "error"
    fields = " ".join(f"{e(k)}={e(v)}" for k, v in entry["fields"].items() if k != "crm_token")
    return (
        f'<tr><td class="{verdict}">{e(shown)} {e(error)}</td><td class="mono">{fields}</td></tr>'
    )


# --- command line --------------------------------------------------------------------


def add_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `simulate-pbx` to the CLI."""
    parser = commands.add_parser(
        "simulate-pbx", help="запустить симулятор АТС МегаФон (для разработки и демо)"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8010)
    parser.add_argument(
        "--crm",
        default="",
        help="адрес вебхука CRM, например http://127.0.0.1:8000/megafon_webhook",
    )
    parser.add_argument("--crm-key", default="", help="«Ключ для авторизации в вашей CRM»")
    parser.add_argument(
        "--api-key", default=DEMO_API_KEY, help="«Ключ для авторизации в АТС» (API token)"
    )
    parser.add_argument(
        "--step-delay", type=float, default=1.0, help="пауза между вебхуками одного звонка, с"
    )
    parser.add_argument(
        "--legacy-only", action="store_true", help="без REST API: только /sys/crm_api.wcgp"
    )
    parser.add_argument("--public-url", default="", help="адрес симулятора для ссылок на записи")


def run(args: argparse.Namespace) -> int:
    """Serve the simulator until interrupted."""
    config = SimulatorConfig(
        api_key=args.api_key,
        crm_url=args.crm,
        crm_key=args.crm_key,
        public_url=args.public_url,
        step_delay=args.step_delay,
        rest=not args.legacy_only,
    )
    host = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host
    domain = f"http://{f'[{host}]' if ':' in host else host}:{args.port}"
    print(f"Симулятор АТС МегаФон: {domain}/")
    print("В CRM, раздел «Телефония» → «Мегафон», укажите:")
    print(f"  Megafon domain: {domain}")
    print(f"  API token:      {config.api_key}")
    if config.crm_url:
        print(f"Вебхуки уходят на {config.crm_url} с ключом «{config.crm_key}».")
    else:
        print("Адрес CRM не задан (--crm): звонки играются, но вебхуки никуда не отправляются.")
    uvicorn.run(create_simulator(config), host=args.host, port=args.port, loop="asyncio")
    return 0
