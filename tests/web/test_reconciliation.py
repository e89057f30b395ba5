"""«Сверка с АТС» end to end: the CRM and our PBX simulator as real servers over HTTP, a real
database; calls the CRM missed while it was down are read back from the PBX's history."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from core import projects
from core.db import Database
from core.migrations import migrate
from core.tables import (
    calls,
    clients,
    messages,
    pbx_connections,
    pbx_sync,
    webhook_deliveries,
)
from core.telephony import connection, inbox, reconciliation
from tests.support import builders
from tests.support.crm_and_pbx import TOKEN, eventually
from tests.support.crm_and_pbx import pair as pair  # the fixture: the CRM and the PBX
from tests.support.databases import run_core
from tests.support.pages import page, text_of
from tests.support.servers import LiveBrowser, LiveServer
from web.app import create_app
from web.config import Settings
from web.pbx_simulator import SimulatorConfig, create_simulator
from web.views import telephony as telephony_views

KNOWN_PHONE = "79265550101"  # the client the pair's project has


async def _calls(db: Database, project_id: int) -> list[dict[str, Any]]:
    return await db.fetch_all(
        sa.select(calls, clients.c.phone.label("client_phone"))
        .select_from(calls.outerjoin(clients, clients.c.id == calls.c.client_id))
        .where(calls.c.project_id == project_id)
        .order_by(calls.c.id)
    )


async def _status_messages(db: Database, project_id: int) -> list[dict[str, Any]]:
    return await db.fetch_all(
        sa.select(messages.c.client_id, messages.c.call_id, messages.c.text, messages.c.origin)
        .where(
            messages.c.project_id == project_id,
            messages.c.text.like("megafon_call_status %"),
        )
        .order_by(messages.c.id)
    )


async def _reconcile(db: Database, project_id: int, **kwargs: Any) -> Any:
    async with httpx.AsyncClient(timeout=5) as http:
        return await reconciliation.reconcile(db, http, project_id, **kwargs)


def _history(sim_url: str, **params: str) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    window = {
        "start": (now - timedelta(days=1)).strftime("%Y%m%dT%H%M%SZ"),
        "end": (now + timedelta(hours=1)).strftime("%Y%m%dT%H%M%SZ"),
        **params,
    }
    answer = httpx.get(
        sim_url + "/crmapi/v1/history/json", params=window, headers={"X-API-KEY": TOKEN}
    )
    assert answer.status_code == 200
    return answer.json()


def test_calls_played_while_the_crm_was_down_appear_once_marked_when_it_starts(
    database_url: str, tmp_path: Any
) -> None:
    """The CRM is not listening while the PBX plays three calls; started, it reads them from
    the history: each call once, in the right client's dialog, marked; the simulator's page
    counts what it could not deliver; a webhook after the history and a history after the
    webhook are both once."""

    async def people(db: Database) -> dict[str, Any]:
        await migrate(db)
        admin = await builders.admin(db, email="anna@romashka.ru")
        project = admin["project_id"]
        key = await projects.generate_api_key(db, project)
        client = await builders.client(db, project, phone="+7 926 555-01-01")
        return {"project": project, "key": key, "client": client["id"]}

    ids = run_core(database_url, people)
    project = ids["project"]
    settings = Settings(
        database_url=database_url,
        secret_key="e2e",
        cheap_passwords=True,
        pbx_timeout=2.0,
        pbx_allow_private=True,
        pbx_sync_minutes=60,  # at start-up, then not again within the test
        recordings_dir=tmp_path / "recordings",
        recording_poll=0.05,
    )
    crm = LiveServer(create_app(settings))  # its port is taken, nobody answers there yet
    config = SimulatorConfig(
        api_key=TOKEN, crm_url=crm.url + "/megafon_webhook", crm_key=ids["key"], step_delay=0.02
    )
    with LiveServer(create_simulator(config)) as sim:

        async def connect(db: Database) -> None:
            await connection.save(db, project, TOKEN, sim.url, allow_private=True)

        run_core(database_url, connect)
        for scenario, phone in (
            ("answered", KNOWN_PHONE),
            ("missed", "79035550202"),
            ("busy", KNOWN_PHONE),
        ):
            httpx.post(sim.url + "/simulator/scenario", data={"scenario": scenario, "phone": phone})
        eventually(lambda: len(_history(sim.url)) == 3)
        statuses = sorted(r["status"] for r in _history(sim.url))
        assert statuses == ["busy", "missed", "success"]  # REST spells them lowercase
        assert _history(sim.url, type="missed")[0]["client"] == "79035550202"
        simulator_page = page(httpx.get(sim.url + "/"))
        assert simulator_page.select_one("#undelivered").get_text() != "0"
        assert simulator_page.select_one("#history-size").get_text() == "3"

        with crm:
            found = eventually(
                lambda: (
                    len(run_core(database_url, _calls, project)) == 3
                    and run_core(database_url, _calls, project)
                )
            )
            assert all(c["restored_at"] is not None and c["status"] for c in found)
            by_status = {c["status"]: c for c in found}
            assert by_status["Success"]["client_id"] == ids["client"]
            assert by_status["Busy"]["client_id"] == ids["client"]
            assert by_status["Missed"]["client_phone"] == "79035550202"  # a new client
            assert by_status["Success"]["record_link"].endswith(".wav")
            texts = run_core(database_url, _status_messages, project)
            assert sorted(m["text"] for m in texts) == [
                "megafon_call_status Busy",
                "megafon_call_status Missed",
                "megafon_call_status Success",
            ]
            assert {m["origin"] for m in texts} == {"pbx_history"}

            admin = LiveBrowser(base_url=crm.url, follow_redirects=True, timeout=15)
            admin.login("anna@romashka.ru")
            own = f"/recordings/{by_status['Success']['id']}"  # the CRM's copy of the recording
            played = eventually(lambda: (r := admin.get(own)).status_code == 200 and r)
            assert played.headers["content-type"].startswith("audio/")
            assert played.content[:4] == b"RIFF"
            card = admin.get(f"/clients/{ids['client']}")
            assert text_of(card).count("восстановлено из истории АТС") == 2
            health = page(admin.get("/telephony/megafon")).select_one("#pbx-health")
            assert "прочитано звонков: 3, восстановлено: 3" in health.get_text(" ", strip=True)
            assert "звонков: 3" in health.select_one("[data-health=restored]").get_text()
            assert "ещё не было" in health.select_one("[data-health=webhook]").get_text()
            assert "при запуске и каждые 60 мин:" in health.get_text()  # not «60.0 мин»
            journal = page(admin.get("/webhooks"))
            assert len(journal.select(".restored-mark")) == 3

            # A webhook that comes after the history is a repeat of it.
            late = {
                "cmd": "history",
                "type": "in",
                "status": "Success",
                "callid": by_status["Success"]["callid"],
                "phone": KNOWN_PHONE,
                "user": "admin",
                "start": "20260101T000000Z",
                "duration": "42",
                "crm_token": ids["key"],
            }
            assert httpx.post(crm.url + "/megafon_webhook", data=late).status_code == 200
            entries, _ = run_core(database_url, inbox.journal, project)
            assert (entries[0]["origin"], entries[0]["result"]) == ("", "duplicate")
            # A call the CRM got live is not restored again by the next reconciliation.
            httpx.post(sim.url + "/simulator/scenario", data={"scenario": "answered"})
            eventually(lambda: len(run_core(database_url, _status_messages, project)) == 4)
            pressed = admin.htmx("POST", "/telephony/megafon/reconcile")
            assert pressed.status_code == 200
            swapped = page(pressed).select_one("#pbx-health")
            assert "прочитано звонков: 4, восстановлено: 0" in swapped.get_text(" ", strip=True)
            assert "ещё не было" not in swapped.select_one("[data-health=webhook]").get_text()
            texts = run_core(database_url, _status_messages, project)
            assert len(texts) == 4 and texts[-1]["origin"] == ""
            admin.close()


async def _sync_row(db: Database, project_id: int) -> dict[str, Any] | None:
    return await db.fetch_one(pbx_sync.select().where(pbx_sync.c.project_id == project_id))


async def _count(db: Database, table: sa.Table, project_id: int) -> int:
    return int(
        await db.fetch_val(
            sa.select(sa.func.count()).select_from(table).where(table.c.project_id == project_id)
        )
    )


async def _connected_days_ago(db: Database, days: int = 2) -> None:
    """As if MegaFon had been connected long ago: the first run reads a whole day back."""
    await db.execute(
        pbx_connections.update().values(connected_at=datetime.now(UTC) - timedelta(days=days))
    )


def _compact(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%SZ")


def _iso(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _records(count: int, start: datetime) -> list[dict[str, Any]]:
    return [
        {
            "uid": f"call-{i}",
            "type": "in",
            "status": "success",
            "client": f"7916{i:07d}",
            "user": "ivanov",
            "start": (start + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "duration": 10,
            "wait": 2,
            "record": "",
        }
        for i in range(count)
    ]


def test_a_pbx_that_fails_or_answers_garbage_leaves_nothing_half_applied(
    pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The PBX down, answering HTML, or failing on the second page: the health says so in
    words, no call is applied, `synced_until` stays; a run held elsewhere, or slower than the
    button waits, is told; a single unreadable record among good
    ones is skipped and counted; a full page asks again from its last call's start."""
    project = pair.ids["project"]
    pair.connect()
    admin = pair.browser("anna@romashka.ru")
    pair.pbx("POST", "/simulator/behaviour", data={"fail_status": "502"})
    pressed = page(admin.htmx("POST", "/telephony/megafon/reconcile"))
    said = pressed.get_text(" ", strip=True)
    assert "АТС ответила ошибкой (HTTP 502 Bad Gateway)" in said
    assert "Traceback" not in said
    assert run_core(pair.url, _sync_row, project)["synced_until"] is None
    pair.pbx("POST", "/simulator/behaviour", data={"fail_status": "0"})

    async def held_elsewhere(db: Database, until: datetime | None) -> None:
        await db.execute(
            pbx_sync.update().values(
                lease_owner="" if until is None else "other-host:1", lease_until=until
            )
        )

    run_core(pair.url, held_elsewhere, datetime.now(UTC) + timedelta(minutes=5))
    busy = page(admin.htmx("POST", "/telephony/megafon/reconcile")).get_text(" ", strip=True)
    assert "Сверка уже идёт." in busy and "сверка идёт" in busy
    run_core(pair.url, held_elsewhere, None)

    monkeypatch.setattr(telephony_views, "RECONCILE_WAIT", 0.2)  # the button waits 0.2 s
    pair.pbx("POST", "/simulator/behaviour", data={"delay": "0.6"})  # PBX_TIMEOUT is 1 s here
    slow = page(admin.htmx("POST", "/telephony/megafon/reconcile")).get_text(" ", strip=True)
    assert "Сверка продолжается в фоне" in slow and "сверка идёт" in slow
    eventually(lambda: run_core(pair.url, _sync_row, project)["lease_owner"] == "")
    assert run_core(pair.url, _sync_row, project)["result"] == "ok"  # it went on and ended
    pair.pbx("POST", "/simulator/behaviour", data={"delay": "0"})

    async def never_reconciled(db: Database) -> None:
        await db.execute(pbx_sync.delete())

    run_core(pair.url, never_reconciled)
    run_core(pair.url, _connected_days_ago)
    first = datetime.now(UTC) - timedelta(hours=23, minutes=50)  # in the first 6-hour part
    records = _records(501, first)
    asked: list[dict[str, str]] = []
    mode = {"name": "html"}

    async def history(request: Request) -> Response:
        asked.append(dict(request.query_params))
        if mode["name"] == "html":
            return PlainTextResponse("<html>maintenance</html>")
        if mode["name"] == "second page fails":
            if len(asked) > 1:
                return PlainTextResponse("502 Bad Gateway", status_code=502)
            return JSONResponse(records[:500])
        start, end = request.query_params["start"], request.query_params["end"]
        limit = int(request.query_params["limit"])
        fresh = [r for r in records if start <= _compact(_iso(r["start"])) < end]
        page_of = fresh[: limit - 1]  # and one record nobody can read
        return JSONResponse([*page_of, {"uid": "", "type": "sideways"}] if page_of else [])

    fake = Starlette(routes=[Route("/crmapi/v1/history/json", history)])
    with LiveServer(fake) as odd:
        pair.connect(domain=odd.url)
        pressed = page(admin.htmx("POST", "/telephony/megafon/reconcile"))
        assert "ответ не похож на историю звонков" in pressed.get_text(" ", strip=True)

        mode["name"] = "second page fails"
        asked.clear()
        run = run_core(pair.url, _reconcile, project)
        assert run.result == "error" and "502" in run.error and len(asked) == 2
        assert run_core(pair.url, _count, calls, project) == 0  # nothing half-applied
        assert run_core(pair.url, _count, webhook_deliveries, project) == 0
        assert run_core(pair.url, _sync_row, project)["synced_until"] is None

        mode["name"] = "pages"
        asked.clear()
        run = run_core(pair.url, _reconcile, project)
        assert run.result == "ok", run.error
        assert (run.calls_read, run.calls_restored) == (501, 501)
        assert "не удалось прочитать: 2" in run.error  # one bad row on each of two pages
        assert asked[1]["start"] == _compact(first + timedelta(seconds=498))
        assert run_core(pair.url, _count, calls, project) == 501
        assert run_core(pair.url, _sync_row, project)["synced_until"] is not None

        async def last_run_a_month_ago(db: Database) -> Any:
            month_ago = datetime.now(UTC) - timedelta(days=30)
            await db.execute(pbx_sync.update().values(synced_until=month_ago))
            return await _reconcile(db, project)

        asked.clear()
        began = datetime.now(UTC)
        assert run_core(pair.url, last_run_a_month_ago).result == "ok"
        assert min(a["start"] for a in asked) >= _compact(began - timedelta(days=7, seconds=1))
        assert len({a["end"] for a in asked}) == 7 * 4  # in six-hour parts


def test_two_reconcilers_at_once_one_runs_and_the_legacy_csv_is_read(pair) -> None:
    """Two reconciliations of a project at once (two database connections, as two
    processes): one reads, the other is told one is running. A PBX with only the legacy API
    gives its CSV (`+7…`, `login@domain`, type `missed`)."""
    project = pair.ids["project"]
    pair.connect()
    run_core(pair.url, _connected_days_ago)
    # Yesterday's and today's calls: the last 24 hours hold about 40 whatever the hour.
    days = [(datetime.now(UTC) - timedelta(days=d)).strftime("%Y-%m-%d") for d in (1, 0)]
    for day in days:
        pair.pbx("POST", "/simulator/history", data={"count": "40", "day": day})
    ended = _history(pair.sim.url, end=_compact(datetime.now(UTC)))
    partial = [r for r in ended if r["status"] == "success"][-1]
    event = {  # the CRM heard this call ring and be answered, then nothing more
        "cmd": "event",
        "type": "ACCEPTED",
        "direction": "in",
        "callid": partial["uid"],
        "phone": partial["client"],
        "user": partial["user"],
        "crm_token": pair.key,
    }
    assert httpx.post(pair.crm.url + "/megafon_webhook", data=event).status_code == 200
    pair.pbx("POST", "/simulator/behaviour", data={"delay": "0.5"})

    async def both(db: Database) -> list[Any]:
        async with Database(pair.url) as other:
            return list(await asyncio.gather(_reconcile(db, project), _reconcile(other, project)))

    runs = run_core(pair.url, both)
    assert sorted(r is None for r in runs) == [False, True]
    done = next(r for r in runs if r is not None)
    assert done.result == "ok" and done.calls_read > 0
    assert run_core(pair.url, _sync_row, project)["lease_owner"] == ""
    known_in_part = next(
        c for c in run_core(pair.url, _calls, project) if c["callid"] == partial["uid"]
    )
    assert known_in_part["status"] == "Success" and known_in_part["restored_at"] is not None
    told = [
        m["text"]
        for m in run_core(pair.url, _status_messages, project)
        if m["call_id"] == known_in_part["id"]
    ]
    assert told == ["megafon_call_status Success"]
    pair.pbx("POST", "/simulator/behaviour", data={"delay": "0"})

    config = SimulatorConfig(api_key=TOKEN, rest=False, step_delay=0.02)
    with LiveServer(create_simulator(config)) as legacy:
        for day in days:
            legacy_answer = httpx.post(
                legacy.url + "/simulator/history", data={"count": "30", "day": day}
            )
            assert legacy_answer.json()["loaded"] == 30
        pair.connect(domain=legacy.url)

        async def fresh_window(db: Database) -> Any:
            await db.execute(pbx_sync.delete())  # read the whole day again, from the legacy API
            return await _reconcile(db, project)

        began = datetime.now(UTC)
        run = run_core(pair.url, fresh_window)
        assert run.result == "ok" and run.error == ""
        assert run.calls_read > 0 and run.calls_restored == run.calls_read
        found = run_core(pair.url, _calls, project)
        legacy_calls = [c for c in found if c["restored_at"] and c["client_phone"]]
        assert all(c["client_phone"].startswith("7916") for c in legacy_calls)
        assert {c["pbx_user"] for c in legacy_calls} <= {"admin", "ivanov", "sidorova"}
        assert "Missed" in {c["status"] for c in legacy_calls}
        # Connected two days ago, never reconciled: the first run reads one day back, no more.
        assert all(c["started_at"] >= began - timedelta(days=1, seconds=1) for c in legacy_calls)
        assert 28 <= run.calls_read <= 31  # a day of the two


@pytest.mark.parametrize("minutes", ["", "0", "2.5"])
def test_pbx_sync_minutes_is_read_from_the_environment(tmp_path: Any, minutes: str) -> None:
    settings = Settings.from_environ({"PBX_SYNC_MINUTES": minutes, "SECRET_KEY": "x"}, tmp_path)
    assert settings.pbx_sync_minutes == {"": 5.0, "0": 0.0, "2.5": 2.5}[minutes]


def test_a_run_left_going_by_the_button_gives_its_lease_back_when_the_crm_stops(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deploy while «Сверить с АТС» goes on in the background: the run is cancelled and the
    lease given back before the database closes, so the next process's start-up run is not
    told «Сверка уже идёт» for ten minutes."""

    async def people(db: Database) -> int:
        await migrate(db)
        return int((await builders.admin(db, email="anna@romashka.ru"))["project_id"])

    project = run_core(database_url, people)

    async def slow_history(request: Request) -> Response:
        await asyncio.sleep(5)
        return JSONResponse([])

    settings = Settings(
        database_url=database_url,
        secret_key="e2e",
        cheap_passwords=True,
        pbx_timeout=10.0,
        pbx_allow_private=True,
    )
    monkeypatch.setattr(telephony_views, "RECONCILE_WAIT", 0.2)
    fake = Starlette(routes=[Route("/crmapi/v1/history/json", slow_history)])
    with LiveServer(fake) as slow_pbx:

        async def connect(db: Database) -> None:
            await connection.save(db, project, TOKEN, slow_pbx.url, allow_private=True)
            await _connected_days_ago(db)

        run_core(database_url, connect)
        with LiveServer(create_app(settings)) as crm:
            admin = LiveBrowser(base_url=crm.url, follow_redirects=True, timeout=15)
            admin.login("anna@romashka.ru")
            pressed = admin.htmx("POST", "/telephony/megafon/reconcile").text
            assert "Сверка продолжается в фоне" in pressed
            assert run_core(database_url, _sync_row, project)["lease_owner"] != ""
            admin.close()
    assert run_core(database_url, _sync_row, project)["lease_owner"] == ""
