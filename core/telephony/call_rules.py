"""Which calls the CRM may place («Разрешённые направления» in «Телефония»), a common defence
against toll fraud should the API key leak.

Russian numbers are always allowed; international numbers and premium-rate ones (8-809…,
8-803…: the caller pays the callee) only when the admin enables them. That holds for every
call the CRM places, from a card, a bot or the API. Calls through the API and by bots are
also counted per project: at most `per_minute` in a minute and `per_hour` in an hour.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TypedDict, cast

import phonenumbers
import sqlalchemy as sa

from core import audit, clock
from core.db import Database
from core.errors import PermissionDenied, TooManyRequests, ValidationError
from core.i18n import gettext as _
from core.tables import call_requests, call_rules

MAX_PER_MINUTE, MAX_PER_HOUR = 1000, 10_000  # what the form accepts


class Rules(TypedDict):
    """A row of `call_rules` (the defaults for a project without one)."""

    international: bool
    premium: bool
    per_minute: int  # calls through the API and by bots, per project
    per_hour: int


DEFAULTS: Rules = {"international": False, "premium": False, "per_minute": 30, "per_hour": 300}


class Destination(StrEnum):
    RUSSIAN = "russian"
    INTERNATIONAL = "international"
    PREMIUM = "premium"


# Numbers where the caller pays the callee's tariff (Russian 8-809…, 8-803…).
_PREMIUM_TYPES = {
    phonenumbers.PhoneNumberType.PREMIUM_RATE,
    phonenumbers.PhoneNumberType.SHARED_COST,
}


class CallRefused(PermissionDenied):
    """The number is in a direction the project does not allow."""


async def get(db: Database, project_id: int) -> Rules:
    row = await db.fetch_one(
        sa.select(
            call_rules.c.international,
            call_rules.c.premium,
            call_rules.c.per_minute,
            call_rules.c.per_hour,
        ).where(call_rules.c.project_id == project_id)
    )
    if row is None:
        return DEFAULTS.copy()
    return cast(Rules, {k: row[k] for k in DEFAULTS})


def _limit(raw: str, field: str, most: int, errors: dict[str, str]) -> int:
    value = raw.strip()
    if not value.isascii() or not value.isdigit() or not 1 <= int(value) <= most:
        errors[field] = _("Целое число от 1 до {most}.").format(most=most)
        return 0
    return int(value)


async def save(
    db: Database,
    project_id: int,
    *,
    international: bool,
    premium: bool,
    per_minute: str,
    per_hour: str,
    who: audit.Actor | None = None,
) -> Rules:
    """«Сохранить»: the directions and the limits, or every field's error. A change made by
    `who` goes into «Журнал действий» with the old and new rules."""
    errors: dict[str, str] = {}
    rules: Rules = {
        "international": international,
        "premium": premium,
        "per_minute": _limit(per_minute, "per_minute", MAX_PER_MINUTE, errors),
        "per_hour": _limit(per_hour, "per_hour", MAX_PER_HOUR, errors),
    }
    if errors:
        raise ValidationError(errors)
    async with db.transaction():
        before = await get(db, project_id)
        row = {"project_id": project_id, **rules, "updated_at": clock.now()}
        await db.upsert(call_rules, row, keys=("project_id",))
        if who is not None and rules != before:
            details = {"old": dict(before), "new": dict(rules)}
            await audit.record(
                db, project_id, who, audit.Action.CALL_RULES_CHANGED, details=details
            )
    return rules


def destination(digits: str) -> Destination:
    """Where a canonical number (`core.phones`) leads. +7 is shared with Kazakhstan, whose
    numbers are international."""
    try:
        number = phonenumbers.parse("+" + digits, None)
    except phonenumbers.NumberParseException:
        return Destination.INTERNATIONAL
    if phonenumbers.region_code_for_number(number) != "RU":
        return Destination.INTERNATIONAL
    if phonenumbers.number_type(number) in _PREMIUM_TYPES:
        return Destination.PREMIUM
    return Destination.RUSSIAN


def check_destination(rules: Rules, digits: str) -> None:
    """Raises `CallRefused` for a number in a direction the rules do not allow."""
    where = destination(digits)
    if where is Destination.INTERNATIONAL and not rules["international"]:
        raise CallRefused(_("Звонки на международные номера запрещены в настройках телефонии."))
    if where is Destination.PREMIUM and not rules["premium"]:
        raise CallRefused(
            _("Звонки на платные номера (8-809, 8-803) запрещены в настройках телефонии.")
        )


async def check_rate(
    db: Database, project_id: int, rules: Rules, now: datetime, sources: tuple[str, ...]
) -> None:
    """Raises `TooManyRequests` when the project's call requests from `sources` (the API and
    bots) in the last minute or hour reached their limit. Call it inside the transaction that
    records the new request, under a lock on the project, so concurrent requests count each
    other. Refused requests are not recorded, so they do not count."""
    for window, limit, message in (
        (
            timedelta(minutes=1),
            rules["per_minute"],
            _("Не больше {n} звонков в минуту через API и ботов. Повторите через {s} с."),
        ),
        (
            timedelta(hours=1),
            rules["per_hour"],
            _("Не больше {n} звонков в час через API и ботов. Повторите через {s} с."),
        ),
    ):
        recent = (
            sa.select(call_requests.c.created_at)
            .where(
                call_requests.c.project_id == project_id,
                call_requests.c.created_at > now - window,
                call_requests.c.source.in_(sources),
            )
            .order_by(call_requests.c.created_at.desc())
            .offset(limit - 1)
            .limit(1)
        )
        oldest_counted = await db.fetch_val(recent)
        if oldest_counted is not None:
            wait = max(1, math.ceil((oldest_counted + window - now).total_seconds()))
            raise TooManyRequests(message.format(n=limit, s=wait), retry_after=wait)
