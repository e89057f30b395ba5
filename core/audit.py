"""«Журнал действий»: who signed in (or failed to), changed the API key, the telephony or an
employee, when and from which address.

A row is written in the transaction of the change it records, so the journal never shows a
change that did not happen, nor misses one that did. Details are old and new values only:
never a password, a token or a key."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, TypedDict, cast

import sqlalchemy as sa

from core import clock, paging
from core.db import Database
from core.i18n import gettext as _
from core.tables import audit_log, users

PAGE_SIZE = 50


class Action(StrEnum):
    SIGN_IN = "sign_in"
    SIGN_IN_FAILED = "sign_in_failed"  # a known email, a wrong password or a deactivated account
    API_KEY_GENERATED = "api_key_generated"
    API_KEY_REGENERATED = "api_key_regenerated"
    TELEPHONY_CONNECTED = "telephony_connected"
    TELEPHONY_CHANGED = "telephony_changed"
    TELEPHONY_DISCONNECTED = "telephony_disconnected"
    CALL_RULES_CHANGED = "call_rules_changed"  # «Разрешённые направления» and call limits
    MISSED_THRESHOLDS_CHANGED = "missed_thresholds_changed"  # «Пропущенные»: waiting thresholds
    RECORDINGS_KEPT_CHANGED = "recordings_kept_changed"  # «Хранить записи разговоров, дней»
    EMPLOYEE_CREATED = "employee_created"
    EMPLOYEE_EMAIL_CHANGED = "employee_email_changed"
    EMPLOYEE_ROLE_CHANGED = "employee_role_changed"
    EMPLOYEE_CALL_METHOD_CHANGED = "employee_call_method_changed"
    EMPLOYEE_PASSWORD_RESET = "employee_password_reset"
    EMPLOYEE_DEACTIVATED = "employee_deactivated"
    EMPLOYEE_ACTIVATED = "employee_activated"


def action_label(action: str) -> str:
    """The kind of action in a few words, for the journal's filter."""
    labels: dict[str, str] = {
        Action.SIGN_IN: _("Вход в систему"),
        Action.SIGN_IN_FAILED: _("Неудачная попытка входа"),
        Action.API_KEY_GENERATED: _("Создан ключ доступа к API"),
        Action.API_KEY_REGENERATED: _("Ключ доступа к API перегенерирован"),
        Action.TELEPHONY_CONNECTED: _("Телефония подключена"),
        Action.TELEPHONY_CHANGED: _("Изменены настройки телефонии"),
        Action.TELEPHONY_DISCONNECTED: _("Телефония отключена"),
        Action.CALL_RULES_CHANGED: _("Изменены разрешённые направления звонков"),
        Action.MISSED_THRESHOLDS_CHANGED: _("Изменены пороги ожидания пропущенных"),
        Action.RECORDINGS_KEPT_CHANGED: _("Изменён срок хранения записей разговоров"),
        Action.EMPLOYEE_CREATED: _("Добавлен сотрудник"),
        Action.EMPLOYEE_EMAIL_CHANGED: _("Изменён email сотрудника"),
        Action.EMPLOYEE_ROLE_CHANGED: _("Изменена роль сотрудника"),
        Action.EMPLOYEE_CALL_METHOD_CHANGED: _("Изменён способ звонков сотрудника"),
        Action.EMPLOYEE_PASSWORD_RESET: _("Сброшен пароль сотрудника"),
        Action.EMPLOYEE_DEACTIVATED: _("Сотрудник отключён"),
        Action.EMPLOYEE_ACTIVATED: _("Сотрудник снова активен"),
    }
    return labels.get(action, action)


@dataclass(frozen=True)
class Actor:
    """Who acts and from where: the signed-in employee (None for a failed sign-in, which
    keeps the email as typed) and the client's address."""

    user_id: int | None
    address: str
    email: str = ""


class Entry(TypedDict):
    """A row of `audit_log`, with the acting employee's name (when there is one)."""

    id: int
    project_id: int
    created_at: datetime
    action: str  # an `Action`
    actor_id: int | None
    actor_name: str | None
    actor_email: str  # as typed, for a failed sign-in
    subject_id: int | None  # the employee acted upon (or whose account was tried)
    address: str
    details: dict[str, Any]  # old and new values; never a secret


async def record(
    db: Database,
    project_id: int,
    who: Actor,
    action: Action,
    *,
    subject_id: int | None = None,
    details: Mapping[str, Any] | None = None,
) -> None:
    """Add a row to the project's journal (inside the caller's transaction, if any)."""
    await db.execute(
        audit_log.insert().values(
            project_id=project_id,
            created_at=clock.now(),
            action=action.value,
            actor_id=who.user_id,
            actor_email=who.email[:254],
            subject_id=subject_id,
            address=who.address[:64],
            details=json.dumps(dict(details or {}), ensure_ascii=False),
        )
    )


_ACTIONS = {a.value: a for a in Action}


async def journal(
    db: Database,
    project_id: int,
    *,
    action: str | None = None,
    employee_id: int | None = None,
    before: int | None = None,
    limit: int = PAGE_SIZE,
) -> tuple[list[Entry], int | None]:
    """The project's journal, newest first: only one kind of action, or only what an employee
    did or had done to them, when asked; the second value continues the list."""
    query = (
        sa.select(audit_log, users.c.name.label("actor_name"))
        .select_from(audit_log.outerjoin(users, users.c.id == audit_log.c.actor_id))
        .where(audit_log.c.project_id == project_id)
    )
    if action is not None and action in _ACTIONS:
        query = query.where(audit_log.c.action == action)
    if employee_id is not None:
        query = query.where(
            sa.or_(audit_log.c.actor_id == employee_id, audit_log.c.subject_id == employee_id)
        )
    rows, next_before = await paging.newest_first(
        db, query, audit_log.c.id, before=before, limit=limit
    )
    for row in rows:
        row["details"] = json.loads(row["details"] or "{}")
    return cast(list[Entry], rows), next_before
