"""Plain builders with realistic defaults, for tests that need a project, people and clients."""

from __future__ import annotations

import itertools
from typing import Any

from core import clients, employees, projects
from core.db import Database
from core.passwords import Passwords

PASSWORD = "kitchen-window-42"
_seq = itertools.count(1)
_cheap = Passwords(cheap=True)


async def admin(
    db: Database, *, project: str = "Ромашка", email: str | None = None, name: str = "Анна Админова"
) -> dict[str, Any]:
    email = email or f"admin{next(_seq)}@romashka.ru"
    data = employees.EmployeeInput(name=name, email=email, password=PASSWORD)
    return dict(await employees.create_admin(db, _cheap, project, data))


async def manager(
    db: Database,
    project_id: int,
    *,
    name: str = "Иван Петров",
    email: str | None = None,
    call_method: str = employees.CallMethod.DISABLED,
    pbx_user: str = "",
) -> dict[str, Any]:
    email = email or f"manager{next(_seq)}@romashka.ru"
    data = employees.EmployeeInput(
        name=name, email=email, password=PASSWORD, call_method=call_method, pbx_user=pbx_user
    )
    user_id = await employees.create_employee(db, _cheap, project_id, data)
    return dict(await employees.get_employee(db, project_id, user_id))


async def client(
    db: Database,
    project_id: int,
    *,
    name: str = "Мария Иванова",
    phone: str = "+7 916 123-45-67",
    client_type: str = clients.ClientType.TELEPHONY,
    responsible_id: int | None = None,
) -> dict[str, Any]:
    client_id = await clients.create_client(
        db,
        project_id,
        clients.ClientInput(
            name=name, phone=phone, client_type=client_type, responsible_id=responsible_id
        ),
    )
    return dict(await clients.get_client(db, project_id, client_id))


async def set_call_method(
    db: Database, employee: dict[str, Any], call_method: str, pbx_user: str = ""
) -> None:
    """Switch an existing employee (admins too) to another call method."""
    data = employees.EmployeeInput(
        name=employee["name"],
        email=employee["email"],
        role=employee["role"],
        call_method=call_method,
        pbx_user=pbx_user,
    )
    await employees.update_employee(db, _cheap, employee["project_id"], employee["id"], data)


async def call_center(db: Database) -> dict[str, Any]:
    """A project that takes calls: the admin Анна, the manager Иван whom the PBX knows as
    `ivanov` («Звонки по API Megafon»), the client Мария Иванова on +7 926 555-01-01, and the
    project's API key (the PBX's `crm_token`)."""
    first = await admin(db, email="anna@romashka.ru")
    project = first["project_id"]
    await manager(
        db,
        project,
        email="ivan@romashka.ru",
        call_method=employees.CallMethod.MEGAFON,
        pbx_user="ivanov",
    )
    maria = await client(db, project, phone="+7 926 555-01-01")
    return {
        "project": project,
        "key": await projects.generate_api_key(db, project),
        "maria": maria["id"],
    }


async def team_with_key(db: Database) -> str:
    """The admin Анна and the manager Иван Петров whom the PBX knows as `ivanov`; returns the
    project's API key (the PBX's `crm_token`)."""
    first = await admin(db, email="anna@romashka.ru")
    await manager(
        db, first["project_id"], name="Иван Петров", call_method="megafon_api", pbx_user="ivanov"
    )
    return await projects.generate_api_key(db, first["project_id"])
