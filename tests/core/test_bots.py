"""Running bot reactions: a matching message's job runs once, by one runner, and saves what
its lines assign; `megafon_call` from a bot line rings through our PBX simulator; a failing
line is recorded on the job and told in the client's dialog; a job cut off by a restart is
never run again."""

import asyncio
import contextlib

import httpx
import pytest

from core import bots, calculator, dialogs, employees, reactions, variables
from core.db import Database
from core.reactions import JobState
from core.telephony import connection, dialing
from tests.support import builders
from tests.support.pbx import TOKEN, simulated_pbx

pytestmark = pytest.mark.anyio
MARIA = "79265550101"


def no_pbx():
    """An HTTP client for runners whose reactions call no PBX: any request fails the test."""

    def refuse(request):
        raise AssertionError(f"unexpected PBX request {request.url}")

    return httpx.AsyncClient(transport=httpx.MockTransport(refuse))


@pytest.fixture
async def office(db):
    """The manager Иван (`ivanov` on the PBX) and the client Мария on +7 926 555-01-01."""
    admin = await builders.admin(db, email="anna@romashka.ru")
    project = admin["project_id"]
    await builders.manager(db, project, call_method=employees.CallMethod.MEGAFON, pbx_user="ivanov")
    maria = await builders.client(db, project, name="Мария Иванова", phone="+7 926 555-01-01")
    return {"project": project, "maria": maria["id"]}


async def say(db, office, text, client_id=None):
    await dialogs.add_message(
        db, office["project"], client_id or office["maria"], dialogs.MessageKind.INCOMING, text
    )


async def variables_of(db, client_id):
    return {v["name"]: v["value"] for v in await variables.list_variables(db, client_id)}


async def dialog_of(db, office):
    page = await dialogs.dialog(db, office["project"], office["maria"])
    return [m["text"] for m in page.messages]


async def test_a_matching_message_runs_the_reaction_once_and_keeps_what_it_assigned(db, office):
    await reactions.save_reaction(
        db,
        office["project"],
        "сколько?",
        "total = 2 + 3\ngreeting = 'Здравствуйте, #{client_name}'",
    )
    await say(db, office, "Сколько?")
    async with no_pbx() as http:
        runner = bots.BotRunner(db, http)
        assert await runner.run_pending() == 1
        assert await runner.run_pending() == 0  # done is done

    assert await variables_of(db, office["maria"]) == {
        "total": "5",
        "greeting": "Здравствуйте, Мария Иванова",
    }
    [job] = await reactions.recent_jobs(db, office["project"])
    assert job["state"] == JobState.DONE
    assert job["result"] == "total = 5, greeting = Здравствуйте, Мария Иванова"
    assert job["finished_at"] is not None


async def test_lines_that_assign_nothing_still_finish_the_job(db, office):
    await reactions.save_reaction(db, office["project"], "привет", "1 + 1")
    await say(db, office, "привет")
    async with no_pbx() as http:
        await bots.BotRunner(db, http).run_pending()
    [job] = await reactions.recent_jobs(db, office["project"])
    assert (job["state"], job["result"]) == (JobState.DONE, "выполнено")


async def test_two_runners_each_take_different_jobs_and_run_every_job_once(
    db, database_url, office
):
    await reactions.save_reaction(db, office["project"], "ещё", "seen = 1")
    others = [
        await builders.client(db, office["project"], name=f"Клиент {n}", phone=f"+7926555020{n}")
        for n in range(6)
    ]
    for other in others:
        await say(db, office, "ещё", client_id=other["id"])

    # On PostgreSQL the second runner has a pool of its own, as another process would. SQLite
    # shares one connection per process (another `Database` on the file in this event loop
    # would wait for a lock that this loop holds), so there both runners share `db`.
    on_postgres = database_url.startswith("postgresql")
    async with (
        Database(database_url) if on_postgres else contextlib.nullcontext(db) as elsewhere,
        no_pbx() as http,
    ):
        one, two = bots.BotRunner(db, http), bots.BotRunner(elsewhere, http)
        counts = await asyncio.wait_for(asyncio.gather(one.run_pending(), two.run_pending()), 30)
        assert sum(counts) == len(others)
        assert await one.run_pending() == await two.run_pending() == 0

    jobs = await reactions.recent_jobs(db, office["project"])
    assert [job["state"] for job in jobs] == [JobState.DONE] * len(others)
    assert sorted(job["client_id"] for job in jobs) == sorted(o["id"] for o in others)


async def test_a_bot_line_calls_the_client_back_through_the_pbx(db, office):
    project = office["project"]
    await reactions.save_reaction(
        db,
        project,
        "megafon_call_status Missed",
        "call_back_id = megafon_call('#{client_phone}', 'ivanov')",
    )
    with simulated_pbx() as pbx:
        await connection.save(db, project, TOKEN, pbx.url, allow_private=True)
        await say(db, office, "megafon_call_status Missed")
        async with httpx.AsyncClient(timeout=5) as http:
            assert await bots.BotRunner(db, http).run_pending() == 1
        [placed] = pbx.calls()

    assert (placed["user"], placed["phone"]) == ("ivanov", MARIA)
    assert await variables_of(db, office["maria"]) == {"call_back_id": placed["callid"]}
    [job] = await reactions.recent_jobs(db, project)
    assert (job["state"], job["result"]) == (JobState.DONE, f"call_back_id = {placed['callid']}")
    [request] = await db.fetch_all(dialing.call_requests.select())
    assert (request["source"], request["client_id"]) == (dialing.CallSource.BOT, office["maria"])


async def test_a_failing_megafon_call_line_is_recorded_on_the_job_and_in_the_dialog(db, office):
    project = office["project"]
    await reactions.save_reaction(
        db, project, "перезвоните мне", "outcome = megafon_call('#{client_phone}', 'nobody')"
    )
    with simulated_pbx() as pbx:
        await connection.save(db, project, TOKEN, pbx.url, allow_private=True)
        await say(db, office, "Перезвоните мне")
        async with httpx.AsyncClient(timeout=5) as http:
            runner = bots.BotRunner(db, http)
            assert await runner.run_pending() == 1
            assert await runner.run_pending() == 0  # the bot's own message triggers nothing
        assert pbx.calls() == []

    [job] = await reactions.recent_jobs(db, project)
    assert job["state"] == JobState.FAILED
    assert "Сотрудник «nobody» не найден в АТС" in job["result"]
    said = await dialog_of(db, office)
    assert said[-1] == f"megafon_call: {job['result']}"
    # The line's value is the error text, so later lines can react to it.
    assert await variables_of(db, office["maria"]) == {"outcome": job["result"]}


async def test_megafon_call_without_a_connected_pbx_fails_in_plain_words(db, office):
    await reactions.save_reaction(
        db, office["project"], "позвоните", "megafon_call('#{client_phone}', 'ivanov')"
    )
    await say(db, office, "позвоните")
    async with no_pbx() as http:
        await bots.BotRunner(db, http).run_pending()
    [job] = await reactions.recent_jobs(db, office["project"])
    assert job["state"] == JobState.FAILED
    assert "Телефония МегаФон не подключена к проекту" in job["result"]
    assert (await dialog_of(db, office))[-1].startswith("megafon_call: Телефония МегаФон")


async def test_a_line_that_fails_to_run_fails_the_job_and_is_named_in_the_dialog(db, office):
    await reactions.save_reaction(db, office["project"], "дели", "before = 1\nafter = 1 / 0")
    await say(db, office, "дели")
    async with no_pbx() as http:
        assert await bots.BotRunner(db, http).run_pending() == 1
    [job] = await reactions.recent_jobs(db, office["project"])
    assert job["state"] == JobState.FAILED
    assert "2" in job["result"]  # the line is named
    assert (await dialog_of(db, office))[-1] == f"Бот: реакция не выполнена: {job['result']}"
    assert await variables_of(db, office["maria"]) == {}  # nothing half-saved


async def test_a_job_cut_off_by_a_restart_is_failed_and_never_run_again(db, office):
    await reactions.save_reaction(db, office["project"], "звонок", "ran = 1")
    await say(db, office, "звонок")
    [job] = await reactions.recent_jobs(db, office["project"])
    await db.execute(
        reactions.bot_jobs.update()
        .where(reactions.bot_jobs.c.id == job["id"])
        .values(state=JobState.RUNNING)
    )
    async with no_pbx() as http:
        runner = bots.BotRunner(db, http)
        await runner.recover()
        assert await runner.run_pending() == 0
    [job] = await reactions.recent_jobs(db, office["project"])
    assert (job["state"], job["result"]) == (JobState.FAILED, "Прервано перезапуском сервера")
    assert await variables_of(db, office["maria"]) == {}


async def test_the_runner_runs_jobs_as_they_come_and_stops_when_asked(db, office):
    await reactions.save_reaction(db, office["project"], "пинг", "pong = 1")
    async with no_pbx() as http:
        runner = bots.BotRunner(db, http)
        running = asyncio.create_task(runner.run_forever(interval=0.05))
        try:
            await say(db, office, "пинг")
            async with asyncio.timeout(10):
                while (await reactions.recent_jobs(db, office["project"]))[0]["state"] != "done":
                    await asyncio.sleep(0.02)
        finally:
            runner.stop()
            await asyncio.wait_for(running, 10)
        await say(db, office, "пинг")
        assert await runner.run_pending() == 0  # stopped: nothing more is taken
    assert await variables_of(db, office["maria"]) == {"pong": "1"}


async def test_megafon_call_lands_in_the_dialog_of_the_client_with_that_number(db, office):
    project = office["project"]
    with simulated_pbx() as pbx:
        await connection.save(db, project, TOKEN, pbx.url, allow_private=True)
        async with httpx.AsyncClient(timeout=5) as http:
            known = await bots.megafon_call(
                db, http, project, "8 (926) 555-01-01", "ivanov", source=dialing.CallSource.API
            )
            unknown = await bots.megafon_call(
                db, http, project, "+7 926 555-09-09", "ivanov", source=dialing.CallSource.API
            )
        assert [c["phone"] for c in pbx.calls()] == [MARIA, "79265550909"]
    assert (await dialing.get_request(db, project, known.id))["client_id"] == office["maria"]
    assert (await dialing.get_request(db, project, unknown.id))["client_id"] is None


async def test_a_run_over_a_limit_stops_and_says_which_limit_and_line(db, office):
    await reactions.save_reaction(
        db, office["project"], "раздуй", "x = 1\ny = 'a'.ljust(1500000000)"
    )
    await say(db, office, "раздуй")
    async with no_pbx() as http:
        assert await bots.BotRunner(db, http).run_pending() == 1
    [job] = await reactions.recent_jobs(db, office["project"])
    assert (job["state"], job["result"]) == (
        JobState.FAILED,
        "Строка 2: значение больше 10000 символов",
    )
    assert (await dialog_of(db, office))[-1] == (
        "Бот: реакция не выполнена: Строка 2: значение больше 10000 символов"
    )
    assert await variables_of(db, office["maria"]) == {}


async def test_a_run_places_no_more_than_three_calls(db, office, monkeypatch):
    placed = []

    async def megafon_call(db, http, project_id, client_phone, user, **kwargs):
        placed.append(client_phone)
        return dialing.CallRequest(len(placed), f"call-{len(placed)}", dialing.RequestState.OK)

    monkeypatch.setattr(bots, "megafon_call", megafon_call)
    lines = "\n".join(f"c{n} = megafon_call('#{{client_phone}}', 'ivanov')" for n in range(4))
    await reactions.save_reaction(db, office["project"], "звоните", lines)
    await say(db, office, "звоните")
    async with no_pbx() as http:
        assert await bots.BotRunner(db, http).run_pending() == 1
    assert len(placed) == 3
    [job] = await reactions.recent_jobs(db, office["project"])
    message = "Строка 4: больше 3 вызовов megafon_call за один запуск"
    assert (job["state"], job["result"]) == (JobState.FAILED, message)
    assert (await dialog_of(db, office))[-1] == f"Бот: реакция не выполнена: {message}"


# About 1.5 s of calculation, a line at a time: each stays cheap, the whole run does not.
HEAVY = (
    "s = list('ab' * 1000)\n" + "\n".join(["n = len([s.count('z') for c in s])"] * 5) + "\ns = 0"
)


async def test_the_event_loop_keeps_answering_while_a_heavy_reaction_runs(db, office):
    await reactions.save_reaction(db, office["project"], "считай", HEAVY)
    await say(db, office, "считай")
    async with no_pbx() as http:
        runner = bots.BotRunner(db, http, calculator.Limits(seconds=60))
        running = asyncio.create_task(runner.run_pending())
        await asyncio.sleep(0.1)
        loop = asyncio.get_running_loop()
        slowest, answered = 0.0, 0
        while not running.done():
            started = loop.time()
            await reactions.recent_jobs(db, office["project"])  # what the «Бот» page reads
            await asyncio.sleep(0.01)
            slowest, answered = max(slowest, loop.time() - started), answered + 1
        assert await running == 1
    [job] = await reactions.recent_jobs(db, office["project"])
    assert (job["state"], job["result"]) == (JobState.DONE, "s = 0, n = 2000")
    assert answered > 10
    assert slowest < 1  # never waited for the ~1.7 s run
