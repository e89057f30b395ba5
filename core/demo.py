"""A demo project for newcomers: employees, clients with variables, a few dialogs."""

from __future__ import annotations

import random
import secrets

from core import clients, demo_calls, dialogs, employees, projects, reactions, variables
from core.db import Database
from core.passwords import Passwords
from core.tables import users
from core.telephony import connection

ADMIN_EMAIL = "admin@demo.example"
MEN = ["Иван", "Алексей", "Дмитрий", "Сергей", "Павел"]
WOMEN = ["Мария", "Ольга", "Анна", "Елена", "Наталья"]
SURNAMES = ["Смирнов", "Кузнецов", "Попов", "Васильев", "Соколов", "Морозов", "Волков", "Лебедев"]
CITIES = ["Москва", "Санкт-Петербург", "Казань", "Екатеринбург", "Новосибирск"]


async def fill(
    db: Database, passwords: Passwords, *, clients_count: int = 40
) -> tuple[str, str] | None:
    """Fill an empty database; returns the admin's email and generated password, or None."""
    if not await employees.setup_needed(db):
        return None
    password = secrets.token_urlsafe(9)
    admin = await employees.create_admin(
        db,
        passwords,
        "Демо-проект",
        employees.EmployeeInput(name="Анна Администратор", email=ADMIN_EMAIL, password=password),
    )
    project_id = admin["project_id"]
    await projects.generate_api_key(db, project_id)
    await projects.set_messengers(
        db, project_id, [projects.Messenger.WHATSAPP, projects.Messenger.TELEGRAM]
    )
    staff = [admin["id"]]
    for name, email, method, pbx in [
        ("Иван Петров", "ivanov@demo.example", employees.CallMethod.MEGAFON, "701"),
        ("Мария Сидорова", "sidorova@demo.example", employees.CallMethod.APP, ""),
        ("Олег Стажёр", "intern@demo.example", employees.CallMethod.DISABLED, ""),
    ]:
        staff.append(
            await employees.create_employee(
                db,
                passwords,
                project_id,
                employees.EmployeeInput(
                    name=name,
                    email=email,
                    password=secrets.token_urlsafe(12),
                    call_method=method,
                    pbx_user=pbx,
                ),
            )
        )
    await employees.update_employee(
        db,
        passwords,
        project_id,
        admin["id"],
        employees.EmployeeInput(
            name=admin["name"],
            email=ADMIN_EMAIL,
            role=employees.Role.ADMIN,
            call_method=employees.CallMethod.MEGAFON,
            pbx_user="admin@vats123456.megapbx.ru",
        ),
    )
    await reactions.save_reaction(
        db,
        project_id,
        "megafon_call_status Missed",
        "missed_call_back = megafon_call('#{client_phone}', 'ivanov')",
    )
    rng = random.Random(7)
    chatting: list[int] = []  # clients who also wrote by messenger
    for i in range(clients_count):
        woman = rng.random() < 0.5
        first = rng.choice(WOMEN if woman else MEN)
        last = rng.choice(SURNAMES) + ("а" if woman else "")
        client_type = rng.choice(
            [
                clients.ClientType.TELEPHONY,
                clients.ClientType.TELEPHONY,
                clients.ClientType.WHATSAPP,
                clients.ClientType.TELEGRAM,
            ]
        )
        client_id = await clients.create_client(
            db,
            project_id,
            clients.ClientInput(
                name=f"{first} {last}",
                phone=f"+7 9{rng.randint(10, 99)} {rng.randint(100, 999)}-"
                f"{rng.randint(10, 99)}-{i % 90 + 10}",
                client_type=client_type,
                responsible_id=rng.choice(staff),
            ),
        )
        await variables.set_variables(
            db,
            project_id,
            client_id,
            {"city": rng.choice(CITIES), "source": rng.choice(["сайт", "Авито", "рекомендация"])},
        )
        if i % 4 == 0:
            chatting.append(client_id)
    # The month of calls first, so each dialog reads in time order: its calls, then the chat.
    await demo_calls.fill(db, project_id, ["701", "701", "admin@vats123456.megapbx.ru"], rng)
    for client_id in chatting:
        await dialogs.add_message(
            db,
            project_id,
            client_id,
            dialogs.MessageKind.INCOMING,
            "Здравствуйте! Хочу узнать про доставку.",
        )
        await dialogs.add_message(
            db,
            project_id,
            client_id,
            dialogs.MessageKind.OUTGOING,
            "Добрый день! Доставляем за 1–2 дня, перезвоню вам.",
        )
        await dialogs.add_note(
            db, project_id, client_id, staff[1], "Клиент ждёт звонка после 15:00"
        )
    return ADMIN_EMAIL, password


async def connect_simulator(db: Database, base_url: str, token: str) -> tuple[str, str] | None:
    """Point the demo project's telephony at the PBX simulator: the project's API key (the
    simulator signs its webhooks with it) and the PBX token, or None when there is no demo
    project. A project already connected to this address keeps its token, so that a simulator
    run on its own with it (one that outlived the CRM) stays the demo's PBX."""
    admin = await db.fetch_one(users.select().where(users.c.email == ADMIN_EMAIL))
    if admin is None:
        return None
    current = await connection.get(db, admin["project_id"])
    if current is not None and current["base_url"] == base_url:
        token = current["api_token"]
    else:
        await connection.save(db, admin["project_id"], token, base_url, allow_private=True)
    project = await projects.get_project(db, admin["project_id"])
    return project["api_key"] or "", token
