"""Posting a call's webhooks to the CRM, one step every `step_delay` seconds; logging answers."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TypedDict

import httpx

from web.pbx_simulator.config import SimulatorConfig
from web.pbx_simulator.fields import Fields
from web.pbx_simulator.history import CallHistory


class SentWebhook(TypedDict):
    fields: Fields
    status: int | None  # None: the CRM never answered
    error: str


class CrmWebhooks:
    """The webhooks in flight to the CRM and the log of those sent, oldest first."""

    def __init__(self, config: SimulatorConfig, http: httpx.AsyncClient) -> None:
        self.config = config
        self.http = http
        self.log: deque[SentWebhook] = deque(maxlen=2000)
        self.tasks: set[asyncio.Task[None]] = set()
        self.history = CallHistory()  # every call played, delivered or not
        self.undelivered = 0  # webhooks the CRM did not take (down, or an error answer)

    def play_later(self, steps: list[Fields]) -> None:
        """Send the steps in the background, the way the real PBX paces a call."""
        task = asyncio.create_task(self._play(self.config.quirks.shape(steps)))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def stop(self) -> None:
        """Drop the calls still playing."""
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def _play(self, steps: list[Fields]) -> None:
        for fields in steps:
            await asyncio.sleep(self.config.step_delay)
            self.history.keep(fields)  # in the PBX's history as it ends, whatever the CRM says
            await self._send(fields)

    async def _send(self, fields: Fields) -> None:
        sent = {**fields, "crm_token": self.config.crm_key}
        entry = SentWebhook(fields=sent, status=None, error="")
        if not self.config.crm_url:
            entry["error"] = "адрес CRM не задан, вебхук не отправлен"
        else:
            try:
                response = await self.http.request(
                    **self.config.quirks.request(self.config.crm_url, sent)
                )
            except Exception as e:  # a broken or absent CRM must never stop the simulator
                entry["error"] = _failure(e)
            else:
                entry["status"] = response.status_code
                if not response.is_success:
                    entry["error"] = response.text[:200]
        if entry["error"]:
            self.undelivered += 1
        self.log.append(entry)


def _failure(error: Exception) -> str:
    """Why a webhook did not reach the CRM, in the page's words (a stopped CRM is the usual)."""
    if isinstance(error, httpx.ConnectError):
        return "CRM недоступна: не удалось подключиться"
    if isinstance(error, httpx.TimeoutException):
        return "CRM не ответила вовремя"
    return f"не отправлен: {type(error).__name__}: {error}".rstrip(": ")
