"""The simulator's own controls: its page, scenario calls, the API's behaviour, what happened."""

from __future__ import annotations

import math
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.templating import Jinja2Templates

from web.pbx_simulator.fields import Fields, read_fields
from web.pbx_simulator.pbx import Behaviour, is_phone, pbx_of
from web.pbx_simulator.quirks import Quirks
from web.pbx_simulator.recordings import recordings_url
from web.pbx_simulator.scenarios import DEFAULT_PHONE, OUTCOMES, SCENARIOS, scenario_phone

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
templates = Jinja2Templates(
    env=Environment(
        loader=FileSystemLoader(TEMPLATES_DIR), autoescape=True, undefined=StrictUndefined
    )
)


async def page(request: Request) -> Response:
    """The simulator's page: what to paste into the CRM, call buttons, what happened."""
    pbx = pbx_of(request)
    context = {
        "domain": (pbx.config.public_url or str(request.base_url)).rstrip("/"),
        "error": request.query_params.get("error", ""),
        "config": pbx.config,
        "behaviour": pbx.behaviour,
        "scenarios": SCENARIOS,
        "outcomes": OUTCOMES,
        "default_phone": DEFAULT_PHONE,
        "calls": list(reversed(list(pbx.calls)[-20:])),
        "webhooks": list(reversed(list(pbx.webhooks.log)[-40:])),
        "undelivered": pbx.webhooks.undelivered,
        "history_size": len(pbx.webhooks.history.records),
    }
    return templates.TemplateResponse(request, "control.html", context)


async def scenario(request: Request) -> Response:
    """Play a scenario call; a form from the page is redirected back to it."""
    pbx = pbx_of(request)
    fields = await read_fields(request)
    name = fields.get("scenario", "")
    if name not in SCENARIOS:
        return _error(request, fields, f"Неизвестный сценарий: {name!r}")
    user = pbx.find_user(fields.get("user") or pbx.config.users[0]["login"])
    if user is None:
        return _error(request, fields, "Нет такого сотрудника")
    phone = scenario_phone(name, fields.get("phone", "").strip())
    if not is_phone(phone):
        return _error(request, fields, "Номер клиента — только цифры, без «+»")
    callid = pbx.play_scenario(request, name, user, phone)
    if fields.get("back"):
        return RedirectResponse(request.url_for("simulator_page"), status_code=303)
    return JSONResponse({"callid": callid})


async def behaviour(request: Request) -> Response:
    """Make the PBX API slow, failing, or end outbound calls differently."""
    pbx = pbx_of(request)
    fields = await read_fields(request)
    try:
        pbx.behaviour = _wanted_behaviour(fields, pbx.behaviour)
    except ValueError as e:
        return _error(request, fields, str(e))
    if fields.get("back"):
        return RedirectResponse(request.url_for("simulator_page"), status_code=303)
    return JSONResponse(asdict(pbx.behaviour))


async def quirks(request: Request) -> Response:
    """Switch what real PBXs send (`quirks.py`): each named field `1` or `on` is on, the
    rest off (a form's unticked boxes are not sent)."""
    pbx = pbx_of(request)
    fields = await read_fields(request)
    chosen = {name: fields.get(name, "") in ("1", "on", "true") for name in Quirks.names()}
    pbx.config.quirks = Quirks(**chosen)
    if fields.get("back"):
        return RedirectResponse(request.url_for("simulator_page"), status_code=303)
    return JSONResponse(chosen)


async def calls(request: Request) -> Response:
    """The makeCall requests the simulator accepted, oldest first."""
    return JSONResponse(list(pbx_of(request).calls))


async def log(request: Request) -> Response:
    """The webhooks the simulator sent, oldest first, with the CRM's answer."""
    return JSONResponse(list(pbx_of(request).webhooks.log))


async def load_history(request: Request) -> Response:
    """Load `count` synthetic calls into the history for the day `day` (YYYY-MM-DD, UTC;
    today by default), as if they had been played while nobody listened (tests, benchmark)."""
    pbx = pbx_of(request)
    fields = await read_fields(request)
    try:
        count = int(fields.get("count") or 0)
        day = datetime.strptime(
            fields.get("day") or datetime.now(UTC).strftime("%Y-%m-%d"), "%Y-%m-%d"
        ).replace(tzinfo=UTC)
    except ValueError:
        return _error(request, fields, "count — число, day — ГГГГ-ММ-ДД")
    if not 0 <= count <= 1_000_000:
        return _error(request, fields, "count: 0…1000000")
    if fields.get("clear"):
        pbx.webhooks.history.records.clear()
    loaded = pbx.webhooks.history.load_day(
        day, count, pbx.config.users, recordings_url(pbx.config, request)
    )
    if fields.get("back"):
        return RedirectResponse(request.url_for("simulator_page"), status_code=303)
    return JSONResponse({"loaded": loaded, "total": len(pbx.webhooks.history.records)})


def _wanted_behaviour(fields: Fields, current: Behaviour) -> Behaviour:
    """The behaviour the fields ask for; a ValueError says what is wrong, in words."""
    try:
        delay = float(fields.get("delay") or current.delay)
        fail_status = (
            int(fields.get("fail_status") or 0) if "fail_status" in fields else current.fail_status
        )
    except ValueError:
        raise ValueError("delay и fail_status — числа") from None
    outcome = fields.get("outcome") or current.outcome
    if not (0 <= delay <= 600 and math.isfinite(delay)) or outcome not in OUTCOMES:
        raise ValueError(f"delay 0…600 с, outcome из {OUTCOMES}")
    if fail_status != 0 and not 400 <= fail_status <= 599:
        raise ValueError("fail_status: 0 или 400…599")
    return Behaviour(delay=delay, fail_status=fail_status, outcome=outcome)


def _error(request: Request, fields: Fields, message: str) -> Response:
    if fields.get("back"):
        url = request.url_for("simulator_page").include_query_params(error=message)
        return RedirectResponse(url, status_code=303)
    return JSONResponse({"error": message}, status_code=400)
