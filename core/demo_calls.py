"""The demo's last 30 days of calls, so «Звонки», «Пропущенные» and «Аналитика» have a team's
month to show: busier on weekdays and around 11 and 15 o'clock, most missed calls called back."""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta
from typing import Any

import sqlalchemy as sa

from core import clock, phones
from core.db import Database
from core.dialogs import MessageKind
from core.tables import calls, clients, messages, missed_calls
from core.telephony import missed_calls as missed_queue_items
from core.telephony.call_journal import PROJECT_TZ
from core.telephony.notifications import status_text
from core.telephony.protocol import CallStatus, Direction

DAYS = 30
HOURS = [9, 10, 11, 11, 11, 12, 13, 14, 15, 15, 15, 16, 17, 18, 19]  # busier hours, drawn from
OUTCOMES_IN = [CallStatus.SUCCESS] * 16 + [CallStatus.MISSED] * 3 + [CallStatus.CANCEL]
OUTCOMES_OUT = [CallStatus.SUCCESS] * 6 + [CallStatus.BUSY, CallStatus.NOT_AVAILABLE]


class _Calls:
    """Rows for `calls` and `missed_calls`, ids given out here (the tables are empty)."""

    def __init__(self, project_id: int, rng: random.Random) -> None:
        self.project_id, self.rng = project_id, rng
        self.calls: list[dict[str, Any]] = []
        self.missed: list[dict[str, Any]] = []

    def add(
        self, at: datetime, client: dict[str, Any], direction: str, status: str, pbx_user: str
    ) -> dict[str, Any]:
        rng = self.rng
        answered = status == CallStatus.SUCCESS
        call = {
            "id": len(self.calls) + 1,
            "project_id": self.project_id,
            "callid": f"demo-{len(self.calls) + 1}",
            "client_id": client["id"],
            "phone": client["phone"],
            "direction": direction,
            "pbx_user": pbx_user,
            "last_event": "COMPLETED" if answered else "CANCELLED",
            "status": status,
            "started_at": at,
            "duration": rng.randint(25, 540) if answered else 0,
            "wait": rng.randint(3, 25) if answered else rng.randint(15, 60),
            "rating": rng.choice([None, None, 4, 5, 5, 3]) if answered else None,
            "created_at": at,
            "updated_at": at,
        }
        self.calls.append(call)
        return call

    def in_time_order(self) -> None:
        """Ids in the order the calls happened, as the CRM would have given them."""
        self.calls.sort(key=lambda c: c["created_at"])
        new_id = {c["id"]: i for i, c in enumerate(self.calls, start=1)}
        for call in self.calls:
            call["id"] = new_id[call["id"]]
        for item in self.missed:
            for key in ("first_call_id", "last_call_id", "closed_by_call_id"):
                if item.get(key) is not None:
                    item[key] = new_id[item[key]]


async def fill(db: Database, project_id: int, pbx_users: list[str], rng: random.Random) -> int:
    """A month of calls of the demo's clients with a phone; returns how many."""
    rows = await db.fetch_all(
        sa.select(clients.c.id, clients.c.phone).where(
            clients.c.project_id == project_id, clients.c.phone.is_not(None)
        )
    )
    people = [{"id": r["id"], "phone": phones.normalize(r["phone"]) or r["phone"]} for r in rows]
    if not people or not pbx_users:
        return 0
    made = _Calls(project_id, rng)
    now = clock.now()
    today = now.astimezone(PROJECT_TZ).date()
    waiting: dict[int, dict[str, Any]] = {}  # a client's open item: at most one each
    for back in range(DAYS - 1, -1, -1):
        day = today - timedelta(days=back)
        count = rng.randint(4, 9) if day.weekday() >= 5 else rng.randint(22, 40)
        moments = sorted(
            datetime.combine(day, time(rng.choice(HOURS), rng.randrange(60)), PROJECT_TZ)
            for _ in range(count)
        )
        for at in moments:
            if at > now:
                break
            client, who = rng.choice(people), rng.choice(pbx_users)
            if rng.random() < 0.3:
                call = made.add(at, client, Direction.OUT, rng.choice(OUTCOMES_OUT), who)
            else:
                call = made.add(at, client, Direction.IN, rng.choice(OUTCOMES_IN), who)
            if call["status"] == CallStatus.SUCCESS:
                if client["id"] in waiting:  # the client is reached: their item closes
                    _close(waiting.pop(client["id"]), call, who)
                continue
            if call["direction"] == Direction.OUT:
                continue
            if client["id"] in waiting:  # one more attempt of the open item
                item = waiting[client["id"]]
                item["attempts"] += 1
                item |= {"last_call_id": call["id"], "last_attempt_at": call["created_at"]}
                continue
            _follow_up(made, call, client, who, now, waiting)
    made.in_time_order()
    await db.execute_many(calls.insert(), made.calls)
    if made.missed:
        await db.execute_many(missed_calls.insert(), made.missed)
    await db.execute_many(messages.insert(), _dialog_messages(made))
    if db.dialect == "postgresql":  # the ids were given here: the sequences go on after them
        for table in ("calls", "missed_calls"):
            await db.execute(
                sa.text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                    f" (SELECT coalesce(max(id), 1) FROM {table}))"
                )
            )
    return len(made.calls)


def _follow_up(
    made: _Calls,
    call: dict[str, Any],
    client: dict[str, Any],
    who: str,
    now: datetime,
    waiting: dict[int, dict[str, Any]],
) -> None:
    """A missed call is called back, or the client calls again, or it still waits."""
    rng, at = made.rng, call["created_at"]
    item = {
        "id": len(made.missed) + 1,
        "project_id": made.project_id,
        "client_id": client["id"],
        "phone": client["phone"],
        "attempts": 1,
        "first_call_id": call["id"],
        "last_call_id": call["id"],
        "opened_at": at,
        "last_attempt_at": at,
        "closed_at": None,
        "close_kind": "",
        "closed_by_call_id": None,
        "closed_by_pbx_user": "",
        "callback_seconds": None,
    }
    made.missed.append(item)
    minutes = rng.choice([3, 6, 9, 14, 20, 35, 50, 90, 180])
    back = at + timedelta(minutes=minutes, seconds=rng.randrange(60))
    # A few clients of the last two days were not reached: the queue has someone waiting.
    if back > now or (now - at < timedelta(days=2) and rng.random() < 0.6):
        waiting[client["id"]] = item
        return
    direction = Direction.IN if rng.random() < 0.2 else Direction.OUT
    _close(item, made.add(back, client, direction, CallStatus.SUCCESS, who), who)


def _close(item: dict[str, Any], reached: dict[str, Any], who: str) -> None:
    """The answered call `reached` closes the open item, as the webhook would."""
    item |= {
        "closed_at": reached["created_at"],
        "close_kind": "inbound" if reached["direction"] == Direction.IN else "outbound",
        "closed_by_call_id": reached["id"],
        "closed_by_pbx_user": who,
        "callback_seconds": int((reached["created_at"] - item["opened_at"]).total_seconds()),
    }


def _dialog_messages(made: _Calls) -> list[dict[str, Any]]:
    """What the webhooks would have written to the dialogs, in time order: each call's
    `megafon_call_status` when it ended, and the «Пропущенные» items' opening and closing."""
    told: list[tuple[datetime, int, dict[str, Any]]] = []

    def say(at: datetime, order: int, client_id: int, text: str, call_id: int | None) -> None:
        row = {
            "project_id": made.project_id,
            "client_id": client_id,
            "kind": MessageKind.SYSTEM.value,
            "text": text,
            "author_id": None,
            "created_at": at,
            "call_id": call_id,
        }
        told.append((at, order, row))

    for call in made.calls:
        ended = call["created_at"] + timedelta(seconds=call["wait"] + call["duration"])
        status = status_text(CallStatus(call["status"]))
        say(ended, 0, call["client_id"], status, call["id"])
    by_id = {call["id"]: call for call in made.calls}
    for item in made.missed:
        first = by_id[item["first_call_id"]]
        opened = first["created_at"] + timedelta(seconds=first["wait"])
        say(opened, 1, item["client_id"], missed_queue_items.OPENED_TEXT, None)
        if item["closed_at"] is not None:
            reached = by_id[item["closed_by_call_id"]]
            closed = reached["created_at"] + timedelta(
                seconds=reached["wait"] + reached["duration"]
            )
            kind = missed_queue_items.CloseKind(item["close_kind"])
            say(closed, 1, item["client_id"], missed_queue_items.closed_text(kind), None)
    return [row for _, _, row in sorted(told, key=lambda t: (t[0], t[1]))]
