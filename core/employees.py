"""Employees: every user of a project, with a role and a way of making phone calls."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, TypedDict, cast

import sqlalchemy as sa

from core import audit, clock, phones, sessions, setup_code
from core.db import Database
from core.errors import Conflict, InvalidCredentials, NotFound, ValidationError
from core.i18n import gettext as _
from core.passwords import Passwords, password_problem
from core.projects import create_project, project_by_name
from core.tables import users

log = logging.getLogger(__name__)
# Projects one email may sign in to: a sign-in checks its password against each account.
MAX_ACCOUNTS = 3


class Role(StrEnum):
    """What an employee may do: an admin also manages employees, telephony and settings."""

    ADMIN = "admin"
    MANAGER = "manager"


class CallMethod(StrEnum):
    """ "Способ совершения телефонных звонков", exactly the Salebot options."""

    DISABLED = "disabled"
    APP = "app"  # the phone's own dialer, from a tel: link
    MEGAFON = "megafon_api"  # the PBX rings the employee, then the client


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PBX_LOGIN = re.compile(r"^[a-z0-9._\-]+(@[a-z0-9.\-]+\.[a-z]{2,})?$")
_EXTENSION = re.compile(r"^\d{2,6}$")


class Employee(TypedDict):
    """A row of `users`: one employee of a project (the signed-in user is one too)."""

    id: int
    project_id: int
    email: str
    name: str
    role: str  # a `Role`
    password_hash: str
    call_method: str  # a `CallMethod`
    pbx_user: str | None  # PBX login, extension or direct number (`CallMethod.MEGAFON` only)
    is_active: bool
    created_at: datetime


def role_label(role: str) -> str:
    labels: dict[str, str] = {Role.ADMIN: _("Администратор"), Role.MANAGER: _("Менеджер")}
    return labels.get(role, role)


def call_method_label(method: str) -> str:
    labels: dict[str, str] = {
        CallMethod.DISABLED: _("Отключить звонки"),
        CallMethod.APP: _("Звонки через приложение"),
        CallMethod.MEGAFON: _("Звонки по API Megafon"),
    }
    return labels.get(method, method)


@dataclass
class EmployeeInput:
    """What the employee form sends (`role` and `call_method` as sent: checked on saving);
    `password` may be empty when editing."""

    name: str
    email: str
    role: str = Role.MANAGER
    password: str = ""
    call_method: str = CallMethod.DISABLED
    pbx_user: str = ""


def clean_pbx_user(raw: str) -> str:
    """A PBX login (`ivanov` or `admin@vats123456.megapbx.ru`), an extension or a direct number."""
    value = (raw or "").strip()
    if not value:
        raise ValidationError.single(
            "pbx_user", _("Укажите логин, внутренний номер или прямой номер сотрудника в АТС.")
        )
    if len(value) <= 200:  # the column's length (PostgreSQL refuses more); no login is longer
        if _EXTENSION.match(value):
            return value
        if phones.looks_like_phone(value):
            return phones.parse(value, field="pbx_user")
        if _PBX_LOGIN.match(value.lower()):
            return value.lower()
    raise ValidationError.single(
        "pbx_user",
        _(
            "Это не похоже на логин, внутренний номер или телефон: например "
            "admin@vats123456.megapbx.ru, 701 или 79001234567."
        ),
    )


_ROLES = {r.value: r for r in Role}
_CALL_METHODS = {m.value: m for m in CallMethod}


def _clean(data: EmployeeInput, *, new: bool) -> dict[str, Any]:
    errors: dict[str, str] = {}
    values: dict[str, Any] = {
        "name": " ".join(data.name.split()),
        "email": data.email.strip().lower(),
        "role": data.role,
        "call_method": data.call_method,
        "pbx_user": None,
    }
    if not values["name"]:
        errors["name"] = _("Укажите имя сотрудника.")
    elif len(values["name"]) > 200:
        errors["name"] = _("Имя длиннее 200 символов.")
    if not _EMAIL.match(values["email"]) or len(values["email"]) > 254:
        errors["email"] = _("Укажите email в виде name@example.ru.")
    if data.role not in _ROLES:
        errors["role"] = _("Выберите роль.")
    if data.call_method not in _CALL_METHODS:
        errors["call_method"] = _("Выберите способ совершения телефонных звонков.")
    elif data.call_method == CallMethod.MEGAFON:
        try:
            values["pbx_user"] = clean_pbx_user(data.pbx_user)
        except ValidationError as e:
            errors.update(e.errors)
    if (new or data.password) and (problem := password_problem(data.password)):
        errors["password"] = problem
    if errors:
        raise ValidationError(errors)
    return values


async def _email_taken(
    db: Database, project_id: int, email: str, except_id: int | None = None
) -> bool:
    """Only this project's employees count: whether another project has the email is
    none of this project's business (the same person may work in both)."""
    query = sa.select(users.c.id).where(users.c.project_id == project_id, users.c.email == email)
    if except_id is not None:
        query = query.where(users.c.id != except_id)
    return await db.fetch_val(query) is not None


async def create_employee(
    db: Database,
    passwords: Passwords,
    project_id: int,
    data: EmployeeInput,
    *,
    who: audit.Actor | None = None,
) -> int:
    """Add an employee; `who` (an admin in «Сотрудники») is journaled as having done it."""
    values = _clean(data, new=True)
    password_hash = await passwords.hash(data.password)
    async with db.transaction():
        if await _email_taken(db, project_id, values["email"]):
            raise ValidationError.single("email", _("Сотрудник с таким email уже есть."))
        user_id: int = await db.execute(
            users.insert().values(
                project_id=project_id,
                password_hash=password_hash,
                is_active=True,
                created_at=clock.now(),
                **values,
            )
        )
        if who is not None:
            details = {"name": values["name"], "email": values["email"], "role": values["role"]}
            await audit.record(
                db,
                project_id,
                who,
                audit.Action.EMPLOYEE_CREATED,
                subject_id=user_id,
                details=details,
            )
        return user_id


async def get_employee(db: Database, project_id: int, user_id: int) -> Employee:
    row = await db.fetch_one(
        users.select().where(users.c.id == user_id, users.c.project_id == project_id)
    )
    if row is None:
        raise NotFound(_("Сотрудник не найден."))
    return cast(Employee, row)


async def active_user(db: Database, user_id: int) -> Employee | None:
    """The signed-in employee behind a session, unless deactivated since."""
    row = await db.fetch_one(users.select().where(users.c.id == user_id, users.c.is_active))
    return cast(Employee | None, row)


async def list_employees(
    db: Database, project_id: int, *, active_only: bool = False
) -> list[Employee]:
    query = users.select().where(users.c.project_id == project_id)
    if active_only:
        query = query.where(users.c.is_active)
    rows = await db.fetch_all(query.order_by(users.c.is_active.desc(), users.c.name))
    return cast(list[Employee], rows)


async def _other_active_admins(db: Database, project_id: int, user_id: int) -> int:
    count: int = await db.fetch_val(
        sa.select(sa.func.count())
        .select_from(users)
        .where(
            users.c.project_id == project_id,
            users.c.role == Role.ADMIN,
            users.c.is_active,
            users.c.id != user_id,
        )
    )
    return count


async def update_employee(
    db: Database,
    passwords: Passwords,
    project_id: int,
    user_id: int,
    data: EmployeeInput,
    *,
    who: audit.Actor | None = None,
) -> None:
    values = _clean(data, new=False)
    if data.password:
        values["password_hash"] = await passwords.hash(data.password)
    async with db.transaction():
        current = await get_employee(db, project_id, user_id)
        if await _email_taken(db, project_id, values["email"], except_id=user_id):
            raise ValidationError.single("email", _("Сотрудник с таким email уже есть."))
        if (
            current["role"] == Role.ADMIN
            and values["role"] != Role.ADMIN
            and not await _other_active_admins(db, project_id, user_id)
        ):
            raise ValidationError.single(
                "role", _("В проекте должен остаться хотя бы один администратор.")
            )
        if who is not None:
            await _journal_changes(db, who, current, values, password_reset=bool(data.password))
        await db.execute(users.update().where(users.c.id == user_id).values(**values))
        if data.password or values["role"] != current["role"]:
            # A reset password or another role: whoever holds a session signs in anew.
            await sessions.end_all(db, project_id, user_id)


async def call_through_megafon(
    db: Database,
    project_id: int,
    logins: Mapping[int, str],
    *,
    who: audit.Actor | None = None,
) -> int:
    """The employees `logins` names (by id) call through MegaFon with those PBX logins
    («Сопоставить с АТС»); each change is journaled as an edit of the employee is. How many
    employees changed."""
    changed = 0
    async with db.transaction():
        for current in await list_employees(db, project_id):
            login = logins.get(current["id"])
            if login is None or (current["call_method"], current["pbx_user"]) == (
                CallMethod.MEGAFON,
                login,
            ):
                continue
            values = {**current, "call_method": CallMethod.MEGAFON.value, "pbx_user": login}
            if who is not None:
                await _journal_changes(db, who, current, values, password_reset=False)
            await db.execute(
                users.update()
                .where(users.c.id == current["id"])
                .values(call_method=values["call_method"], pbx_user=login)
            )
            changed += 1
    return changed


async def _journal_changes(
    db: Database,
    who: audit.Actor,
    current: Employee,
    values: dict[str, Any],
    *,
    password_reset: bool,
) -> None:
    """One journal row per change an admin made to an employee (the password as «reset» only)."""
    changes: list[tuple[audit.Action, dict[str, Any]]] = []
    if values["email"] != current["email"]:
        changes.append(
            (
                audit.Action.EMPLOYEE_EMAIL_CHANGED,
                {"old": current["email"], "new": values["email"]},
            )
        )
    if values["role"] != current["role"]:
        changes.append(
            (audit.Action.EMPLOYEE_ROLE_CHANGED, {"old": current["role"], "new": values["role"]})
        )
    old_method = (current["call_method"], current["pbx_user"])
    if (values["call_method"], values["pbx_user"]) != old_method:
        changes.append(
            (
                audit.Action.EMPLOYEE_CALL_METHOD_CHANGED,
                {
                    "old": current["call_method"],
                    "new": values["call_method"],
                    "old_pbx_user": current["pbx_user"],
                    "new_pbx_user": values["pbx_user"],
                },
            )
        )
    if password_reset:
        changes.append((audit.Action.EMPLOYEE_PASSWORD_RESET, {}))
    for action, details in changes:
        await audit.record(
            db,
            current["project_id"],
            who,
            action,
            subject_id=current["id"],
            details={"name": values["name"], **details},
        )


async def set_active(
    db: Database,
    project_id: int,
    user_id: int,
    active: bool,
    *,
    acting_user_id: int,
    who: audit.Actor | None = None,
) -> None:
    """Deactivate (the employee can no longer sign in) or bring an employee back."""
    async with db.transaction():
        employee = await get_employee(db, project_id, user_id)
        if not active:
            if user_id == acting_user_id:
                raise Conflict(_("Нельзя отключить самого себя."))
            if employee["role"] == Role.ADMIN and not await _other_active_admins(
                db, project_id, user_id
            ):
                raise Conflict(_("В проекте должен остаться хотя бы один администратор."))
        if who is not None and active != employee["is_active"]:
            action = (
                audit.Action.EMPLOYEE_ACTIVATED if active else audit.Action.EMPLOYEE_DEACTIVATED
            )
            await audit.record(
                db, project_id, who, action, subject_id=user_id, details={"name": employee["name"]}
            )
        await db.execute(users.update().where(users.c.id == user_id).values(is_active=active))
        if not active:
            await sessions.end_all(db, project_id, user_id)


async def change_own_password(
    db: Database,
    passwords: Passwords,
    user_id: int,
    current_password: str,
    new_password: str,
    *,
    keep_session: int | None = None,
) -> int:
    """An employee changes their password, knowing the current one. Their other sessions end
    (the one they are using, `keep_session`, stays); returns how many ended."""
    row = await db.fetch_one(users.select().where(users.c.id == user_id, users.c.is_active))
    if row is None:
        raise NotFound(_("Сотрудник не найден."))
    if not await passwords.verify(row["password_hash"], current_password):
        raise ValidationError.single("current_password", _("Неверный текущий пароль."))
    if problem := password_problem(new_password):
        raise ValidationError.single("password", problem)
    password_hash = await passwords.hash(new_password)
    async with db.transaction():
        await db.execute(
            users.update().where(users.c.id == user_id).values(password_hash=password_hash)
        )
        return await sessions.end_all(db, row["project_id"], user_id, except_id=keep_session)


async def authenticate(
    db: Database, passwords: Passwords, email: str, password: str, *, address: str = ""
) -> Employee:
    """The active employee with this email and password, journaled as signed in.

    The same email may have an account in several projects: the password is checked against
    each active one, oldest first (at most `MAX_ACCOUNTS`), and the first that matches signs
    in, so an account added later with the same password cannot capture the sign-in of the
    established one. A failure is journaled in every project that has the email, and lasts as
    long as `MAX_ACCOUNTS` checks, so neither the answer nor its time tells how many projects
    know the email. An email that no project has is only logged."""
    accounts = cast(
        list[Employee],
        await db.fetch_all(
            users.select()
            .where(users.c.email == email.strip().lower())
            .order_by(users.c.id)
            .limit(MAX_ACCOUNTS)
        ),
    )
    started, checks = time.monotonic(), 0
    for account in accounts:
        if account["is_active"]:
            checks += 1
            if await passwords.verify(account["password_hash"], password):
                who = audit.Actor(account["id"], address)
                await audit.record(db, account["project_id"], who, audit.Action.SIGN_IN)
                return account
    if not checks:
        await passwords.verify(None, password)  # an unknown email costs a check all the same
        checks = 1
    await asyncio.sleep((time.monotonic() - started) / checks * (MAX_ACCOUNTS - checks))
    who = audit.Actor(None, address, email=email.strip())
    for account in accounts:
        await audit.record(
            db, account["project_id"], who, audit.Action.SIGN_IN_FAILED, subject_id=account["id"]
        )
    if not accounts:
        log.info("failed sign-in with an email no project has, from %s", address or "?")
    raise InvalidCredentials(_("Неверный email или пароль."))


async def setup_needed(db: Database) -> bool:
    """A fresh install has no employees at all: the first visit creates project and admin."""
    return await db.fetch_val(sa.select(users.c.id).limit(1)) is None


async def create_admin(
    db: Database, passwords: Passwords, project_name: str, data: EmployeeInput
) -> Employee:
    """Create an admin in the named project, creating the project when it does not exist."""
    data.role = Role.ADMIN
    async with db.transaction():
        project = await project_by_name(db, project_name)
        project_id = project["id"] if project else await create_project(db, project_name)
        user_id = await create_employee(db, passwords, project_id, data)
        await setup_code.forget(db)  # the install has its first admin (or had one already)
        return await get_employee(db, project_id, user_id)


async def first_setup(
    db: Database, passwords: Passwords, project_name: str, data: EmployeeInput, code: str
) -> Employee:
    """The setup page: only while the install has no employee yet, and only for whoever
    has the setup code the server printed on its console (core/setup_code.py)."""
    async with db.transaction():
        if not await setup_needed(db):
            raise Conflict(_("Проект уже настроен. Войдите со своим email и паролем."))
        if not await setup_code.matches(db, code):
            raise ValidationError.single(
                "setup_code",
                _("Неверный код установки. Его напечатал сервер в консоли при запуске."),
            )
        return await create_admin(db, passwords, project_name, data)
