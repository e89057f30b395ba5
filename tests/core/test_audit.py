"""«Журнал действий»: each change is journaled with who, where and old → new values, in the
transaction of the change; never a secret; newest first, by pages, filtered."""

import pytest

from core import audit, employees, projects
from core.audit import Action, Actor
from core.errors import InvalidCredentials, ValidationError
from core.passwords import Passwords
from core.telephony import connection
from tests.support import builders

pytestmark = pytest.mark.anyio
cheap = Passwords(cheap=True)


async def actions(db, project_id, **filters):
    entries, _ = await audit.journal(db, project_id, **filters)
    return [(e["action"], e["details"]) for e in entries]


async def test_key_telephony_and_employee_changes_are_journaled_with_who_and_where(db):
    anna = await builders.admin(db, email="anna@romashka.ru")
    project = anna["project_id"]
    who = Actor(anna["id"], "203.0.113.5")
    key = await projects.generate_api_key(db, project, who=who)
    new_key = await projects.generate_api_key(db, project, who=who)
    await connection.save(db, project, "token-one-1234", "vats1.megapbx.ru", who=who)
    await connection.save(db, project, "token-two-5678", "vats2.megapbx.ru", who=who)
    await connection.save(db, project, "", "vats2.megapbx.ru", who=who)  # nothing changed
    await connection.disconnect(db, project, who=who)
    ivan_id = await employees.create_employee(
        db,
        cheap,
        project,
        employees.EmployeeInput(name="Иван", email="ivan@romashka.ru", password="new-password-1"),
        who=who,
    )
    await employees.update_employee(
        db,
        cheap,
        project,
        ivan_id,
        employees.EmployeeInput(
            name="Иван",
            email="ivan@romashka.ru",
            role="admin",
            password="another-pass-2",
            call_method="megafon_api",
            pbx_user="701",
        ),
        who=who,
    )
    await employees.set_active(db, project, ivan_id, False, acting_user_id=anna["id"], who=who)
    await employees.set_active(db, project, ivan_id, True, acting_user_id=anna["id"], who=who)

    entries, _ = await audit.journal(db, project)
    assert {(e["actor_id"], e["actor_name"], e["address"]) for e in entries} == {
        (anna["id"], "Анна Админова", "203.0.113.5")
    }
    assert [(e["action"], e["details"]) for e in reversed(entries)] == [
        (Action.API_KEY_GENERATED, {}),
        (Action.API_KEY_REGENERATED, {}),
        (Action.TELEPHONY_CONNECTED, {"domain": "https://vats1.megapbx.ru"}),
        (
            Action.TELEPHONY_CHANGED,
            {
                "old_domain": "https://vats1.megapbx.ru",
                "domain": "https://vats2.megapbx.ru",
                "token_changed": True,
            },
        ),
        (Action.TELEPHONY_DISCONNECTED, {"domain": "https://vats2.megapbx.ru"}),
        (
            Action.EMPLOYEE_CREATED,
            {"name": "Иван", "email": "ivan@romashka.ru", "role": "manager"},
        ),
        (Action.EMPLOYEE_ROLE_CHANGED, {"name": "Иван", "old": "manager", "new": "admin"}),
        (
            Action.EMPLOYEE_CALL_METHOD_CHANGED,
            {
                "name": "Иван",
                "old": "disabled",
                "new": "megafon_api",
                "old_pbx_user": None,
                "new_pbx_user": "701",
            },
        ),
        (Action.EMPLOYEE_PASSWORD_RESET, {"name": "Иван"}),
        (Action.EMPLOYEE_DEACTIVATED, {"name": "Иван"}),
        (Action.EMPLOYEE_ACTIVATED, {"name": "Иван"}),
    ]
    assert {e["subject_id"] for e in entries if e["action"].startswith("employee")} == {ivan_id}
    stored = repr(entries)
    for secret in (key, new_key, "token-one-1234", "token-two-5678", "another-pass-2", "$argon2"):
        assert secret not in stored


async def test_a_refused_change_leaves_no_entry(db):
    anna = await builders.admin(db)
    who = Actor(anna["id"], "203.0.113.5")
    with pytest.raises(ValidationError):
        await connection.save(db, anna["project_id"], "token-1234", "not a domain", who=who)
    with pytest.raises(ValidationError):  # the last admin cannot become a manager
        await employees.update_employee(
            db,
            cheap,
            anna["project_id"],
            anna["id"],
            employees.EmployeeInput(name=anna["name"], email=anna["email"], role="manager"),
            who=who,
        )
    assert await actions(db, anna["project_id"]) == []


async def test_sign_ins_are_journaled_in_the_project_of_the_account(db):
    anna = await builders.admin(db, email="anna@romashka.ru")
    other = await builders.admin(db, project="Василёк", email="boss@vasilek.ru")
    await employees.authenticate(
        db, cheap, "Anna@Romashka.ru", builders.PASSWORD, address="10.1.1.1"
    )
    for typed in ("ANNA@romashka.ru ", "nobody@romashka.ru"):
        with pytest.raises(InvalidCredentials):
            await employees.authenticate(db, cheap, typed, "wrong-password", address="10.2.2.2")
    entries, _ = await audit.journal(db, anna["project_id"])
    assert [
        (e["action"], e["actor_id"], e["actor_email"], e["subject_id"], e["address"])
        for e in entries
    ] == [
        (Action.SIGN_IN_FAILED, None, "ANNA@romashka.ru", anna["id"], "10.2.2.2"),
        (Action.SIGN_IN, anna["id"], "", None, "10.1.1.1"),
    ]
    # An email no project has is journaled nowhere.
    assert await actions(db, other["project_id"]) == []


async def test_one_email_in_two_projects_signs_in_to_the_account_its_password_opens(db):
    anna = await builders.admin(db, project="Ромашка", email="anna@romashka.ru")
    boss = await builders.admin(db, project="Василёк", email="boss@vasilek.ru")
    twin_id = await employees.create_employee(
        db,
        cheap,
        boss["project_id"],
        employees.EmployeeInput(name="Анна", email="ANNA@romashka.ru", password="vasilek-pass-9"),
    )
    first = await employees.authenticate(db, cheap, "anna@romashka.ru", builders.PASSWORD)
    second = await employees.authenticate(db, cheap, "anna@romashka.ru", "vasilek-pass-9")
    assert (first["id"], second["id"]) == (anna["id"], twin_id)
    with pytest.raises(InvalidCredentials):
        await employees.authenticate(db, cheap, "anna@romashka.ru", "wrong-password")
    for project in (anna["project_id"], boss["project_id"]):  # each project sees its failure
        assert (await actions(db, project))[0] == (Action.SIGN_IN_FAILED, {})
    # Inside one project an email is still one employee.
    with pytest.raises(ValidationError) as taken:
        await builders.manager(db, boss["project_id"], email="anna@romashka.ru")
    assert taken.value.errors == {"email": "Сотрудник с таким email уже есть."}


async def test_the_journal_pages_newest_first_and_filters_by_action_and_employee(db):
    anna = await builders.admin(db)
    ivan = await builders.manager(db, anna["project_id"])
    project = anna["project_id"]
    for i in range(5):
        await audit.record(db, project, Actor(anna["id"], f"10.0.0.{i}"), Action.SIGN_IN)
    await audit.record(db, project, Actor(ivan["id"], "10.9.9.9"), Action.SIGN_IN)
    await audit.record(
        db,
        project,
        Actor(anna["id"], "10.0.0.9"),
        Action.EMPLOYEE_DEACTIVATED,
        subject_id=ivan["id"],
        details={"name": ivan["name"]},
    )
    page, more = await audit.journal(db, project, limit=4)
    rest, end = await audit.journal(db, project, limit=4, before=more)
    assert [e["address"] for e in page + rest] == [
        "10.0.0.9",
        "10.9.9.9",
        *(f"10.0.0.{i}" for i in reversed(range(5))),
    ]
    assert end is None
    about_ivan = await actions(db, project, employee_id=ivan["id"])
    assert about_ivan == [
        (Action.EMPLOYEE_DEACTIVATED, {"name": ivan["name"]}),
        (Action.SIGN_IN, {}),
    ]
    assert len(await actions(db, project, action="sign_in")) == 6
    assert len(await actions(db, project, action="no such action")) == 7
    other = await builders.admin(db, project="Василёк")
    assert await actions(db, other["project_id"]) == []
