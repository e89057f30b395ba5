"""Running bot reactions (`core.reactions`) and the bots' `megafon_call(client_phone, user)`.

`BotRunner` takes recorded jobs one at a time, oldest first, and runs their calculator lines
in a worker thread (a `megafon_call` inside waits for the PBX on the event loop), so the
server keeps answering meanwhile; a run is bounded by `calculator.LIMITS`. Variables
the lines assign are saved on the client; a failure is written to the client's dialog. A job
that was running when the process stopped is marked failed, never run twice: a call is not
something to repeat behind anyone's back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any, cast

import anyio.from_thread
import anyio.to_thread
import httpx

from core import calculator, clients, clock, dialogs, matching, phones, variables
from core.db import Database
from core.errors import CrmError, describe
from core.i18n import gettext as _
from core.reactions import BotJob, JobState, get_reaction
from core.tables import bot_jobs
from core.telephony import dialing

log = logging.getLogger("crm.bots")


async def megafon_call(
    db: Database,
    http: httpx.AsyncClient,
    project_id: int,
    client_phone: str,
    user: str,
    *,
    source: dialing.CallSource,
    client_id: int | None = None,
) -> dialing.CallRequest:
    """Ring `user` (PBX login, extension or number), then `client_phone`; the call lands in
    the dialog of `client_id`, or of the client the number matches."""
    if client_id is None:
        digits = phones.normalize(client_phone)
        if digits is not None:
            client_id = await matching.find_client(db, project_id, digits)
    return await dialing.make_call(
        db,
        http,
        project_id,
        pbx_user=user,
        phone=client_phone,
        source=source,
        client_id=client_id,
    )


class BotRunner:
    """Runs recorded reaction jobs; `run_forever` is started by the app, `run_pending` by tests."""

    def __init__(
        self, db: Database, http: httpx.AsyncClient, limits: calculator.Limits | None = None
    ) -> None:
        self.db, self.http = db, http
        self.limits = limits  # None: `calculator.LIMITS`
        self.stopping = asyncio.Event()

    def stop(self) -> None:
        """Finish the job under way and stop (a job is never cut off in the middle)."""
        self.stopping.set()

    async def recover(self) -> None:
        """Jobs a stopped process left running: failed, with the reason."""
        await self.db.execute(
            bot_jobs.update()
            .where(bot_jobs.c.state == JobState.RUNNING)
            .values(
                state=JobState.FAILED,
                result=_("Прервано перезапуском сервера"),
                finished_at=clock.now(),
            )
        )

    async def run_forever(self, interval: float = 0.3) -> None:
        await self.recover()
        while not self.stopping.is_set():
            try:
                if await self.run_pending():
                    continue
            except Exception:  # a broken job must not stop the others
                log.exception("bot runner")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), interval)

    async def run_pending(self) -> int:
        """Run every pending job (until asked to stop); the number run."""
        count = 0
        while not self.stopping.is_set() and (job := await self._claim()) is not None:
            await self._run(job)
            count += 1
        return count

    async def _claim(self) -> BotJob | None:
        job = await self.db.claim(  # several processes: each job to one of them
            bot_jobs,
            bot_jobs.c.state == JobState.PENDING,
            order_by=bot_jobs.c.id,
            update={"state": JobState.RUNNING},
        )
        return cast(BotJob | None, job)

    async def _run(self, job: BotJob) -> None:
        project_id, client_id = job["project_id"], job["client_id"]
        try:
            reaction = await get_reaction(self.db, project_id, job["reaction_id"])
            client = await clients.get_client(self.db, project_id, client_id)
            known = {
                v["name"]: v["value"] for v in await variables.list_variables(self.db, client_id)
            }
            known.update(
                client_phone=client["phone"] or "",
                client_name=client["name"] or "",
                client_id=str(client_id),
            )
            errors: list[str] = []
            call = self._megafon_call(project_id, client_id, errors)
            outcome = await anyio.to_thread.run_sync(
                calculator.evaluate,
                reaction["actions"],
                known,
                {"megafon_call": call},
                self.limits or calculator.LIMITS,
            )
            if outcome.assigned:
                await variables.set_variables(self.db, project_id, client_id, outcome.assigned)
            result = "; ".join(errors) or ", ".join(
                f"{k} = {v}" for k, v in outcome.assigned.items()
            )
            state = JobState.FAILED if errors else JobState.DONE
            await self._finish(job, state, result or _("выполнено"))
        except CrmError as e:
            message = describe(e)
            await self._finish(job, JobState.FAILED, message)
            await self._tell(
                project_id, client_id, _("Бот: реакция не выполнена: {error}").format(error=message)
            )

    def _megafon_call(
        self, project_id: int, client_id: int, errors: list[str]
    ) -> Callable[..., str]:
        """`megafon_call` for the calculator (it runs in a thread): the call id, or the error
        text, which is also written to the client's dialog."""

        def call(client_phone: Any = "", user: Any = "") -> str:
            try:
                started = anyio.from_thread.run(in_loop, str(client_phone), str(user))
            except CrmError as e:
                message = describe(e)
                errors.append(message)
                text = _("megafon_call: {error}").format(error=message)
                anyio.from_thread.run(self._tell, project_id, client_id, text)
                return message
            return started.callid

        async def in_loop(client_phone: str, user: str) -> dialing.CallRequest:
            return await megafon_call(
                self.db,
                self.http,
                project_id,
                client_phone,
                user,
                source=dialing.CallSource.BOT,
                client_id=client_id,
            )

        return call

    async def _tell(self, project_id: int, client_id: int, text: str) -> None:
        await dialogs.add_message(
            self.db, project_id, client_id, dialogs.MessageKind.SYSTEM, text[:4000], from_bot=True
        )

    async def _finish(self, job: BotJob, state: JobState, result: str) -> None:
        await self.db.execute(
            bot_jobs.update()
            .where(bot_jobs.c.id == job["id"])
            .values(state=state, result=result[:2000], finished_at=clock.now())
        )
