import pytest

from core import employees, setup_code
from core.employees import EmployeeInput
from core.errors import Conflict, InvalidCredentials, ValidationError
from core.passwords import Passwords
from tests.support import builders

pytestmark = pytest.mark.anyio
cheap = Passwords(cheap=True)


async def test_first_setup_creates_project_and_admin_once(db):
    assert await employees.setup_needed(db)
    issued = await setup_code.ensure(db)
    assert issued is not None and issued[1]
    code = issued[0]
    assert await setup_code.ensure(db) == (code, False)  # one code, whoever asks
    anna = EmployeeInput(name="Анна", email="Anna@Romashka.ru", password="secret123")
    with pytest.raises(ValidationError) as wrong:
        await employees.first_setup(db, cheap, "Ромашка", anna, "AAAA-BBBB-CCCC")
    assert list(wrong.value.errors) == ["setup_code"]
    assert await employees.setup_needed(db)
    admin = await employees.first_setup(db, cheap, "Ромашка", anna, code)
    assert admin["role"] == "admin" and admin["email"] == "anna@romashka.ru"
    assert not await employees.setup_needed(db)
    assert await setup_code.current(db) is None and await setup_code.ensure(db) is None
    with pytest.raises(Conflict):
        await employees.first_setup(
            db,
            cheap,
            "Чужой",
            EmployeeInput(name="Злодей", email="x@y.ru", password="secret123"),
            code,
        )


async def test_passwords_are_argon2_hashes_and_sign_in_checks_them(db):
    admin = await builders.admin(db, email="anna@romashka.ru")
    stored = await employees.get_employee(db, admin["project_id"], admin["id"])
    assert stored["password_hash"].startswith("$argon2")
    assert (await employees.authenticate(db, cheap, " ANNA@romashka.ru", builders.PASSWORD))[
        "id"
    ] == admin["id"]
    for email, password in [
        ("anna@romashka.ru", "wrong-pass"),
        ("nobody@romashka.ru", builders.PASSWORD),
    ]:
        with pytest.raises(InvalidCredentials):
            await employees.authenticate(db, cheap, email, password)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("admin@vats123456.megapbx.ru", "admin@vats123456.megapbx.ru"),
        ("Ivanov", "ivanov"),
        ("701", "701"),
        ("8 (900) 123-45-67", "79001234567"),
        ("+7 900 123 45 67", "79001234567"),
    ],
)
async def test_pbx_user_may_be_a_login_an_extension_or_a_direct_number(db, typed, stored):
    admin = await builders.admin(db)
    employee = await builders.manager(
        db, admin["project_id"], call_method=employees.CallMethod.MEGAFON, pbx_user=typed
    )
    assert employee["pbx_user"] == stored


async def test_calls_via_megafon_api_require_a_valid_pbx_user(db):
    admin = await builders.admin(db)
    for bad in ["", "кто-то там", "a b c", "x" * 201]:  # the column holds 200
        with pytest.raises(ValidationError) as error:
            await builders.manager(
                db, admin["project_id"], call_method=employees.CallMethod.MEGAFON, pbx_user=bad
            )
        assert "pbx_user" in error.value.errors


async def test_other_call_methods_keep_no_pbx_user(db):
    admin = await builders.admin(db)
    employee = await builders.manager(
        db, admin["project_id"], call_method=employees.CallMethod.APP, pbx_user="701"
    )
    assert employee["pbx_user"] is None


async def test_every_bad_field_is_named_at_once(db):
    admin = await builders.admin(db)
    with pytest.raises(ValidationError) as error:
        await employees.create_employee(
            db,
            cheap,
            admin["project_id"],
            EmployeeInput(
                name="", email="not-an-email", role="boss", password="short", call_method="fax"
            ),
        )
    assert set(error.value.errors) == {"name", "email", "role", "password", "call_method"}


async def test_emails_are_unique_in_a_project_and_say_nothing_about_other_projects(db):
    first = await builders.admin(db, project="Ромашка", email="same@mail.ru")
    with pytest.raises(ValidationError) as error:
        await builders.manager(db, first["project_id"], email="SAME@mail.ru")
    assert "email" in error.value.errors
    other = await builders.admin(db, project="Лютик")
    assert (await builders.manager(db, other["project_id"], email="SAME@mail.ru"))["id"]


async def test_a_deactivated_employee_cannot_sign_in_and_can_come_back(db):
    admin = await builders.admin(db)
    manager = await builders.manager(db, admin["project_id"], email="ivan@romashka.ru")
    await employees.set_active(
        db, admin["project_id"], manager["id"], False, acting_user_id=admin["id"]
    )
    with pytest.raises(InvalidCredentials):
        await employees.authenticate(db, cheap, "ivan@romashka.ru", builders.PASSWORD)
    await employees.set_active(
        db, admin["project_id"], manager["id"], True, acting_user_id=admin["id"]
    )
    assert await employees.authenticate(db, cheap, "ivan@romashka.ru", builders.PASSWORD)


async def test_the_last_admin_cannot_be_removed_or_demoted(db):
    admin = await builders.admin(db)
    other = await builders.manager(db, admin["project_id"])
    with pytest.raises(Conflict):
        await employees.set_active(
            db, admin["project_id"], admin["id"], False, acting_user_id=admin["id"]
        )
    with pytest.raises(Conflict):
        await employees.set_active(
            db, admin["project_id"], admin["id"], False, acting_user_id=other["id"]
        )
    with pytest.raises(ValidationError):
        await employees.update_employee(
            db,
            cheap,
            admin["project_id"],
            admin["id"],
            EmployeeInput(name="Анна", email=admin["email"], role="manager"),
        )


async def test_editing_without_a_password_keeps_the_old_one(db):
    admin = await builders.admin(db, email="anna@romashka.ru")
    await employees.update_employee(
        db,
        cheap,
        admin["project_id"],
        admin["id"],
        EmployeeInput(
            name="Анна Новая",
            email="anna@romashka.ru",
            role="admin",
            call_method=employees.CallMethod.MEGAFON,
            pbx_user="702",
        ),
    )
    user = await employees.authenticate(db, cheap, "anna@romashka.ru", builders.PASSWORD)
    assert (user["name"], user["pbx_user"]) == ("Анна Новая", "702")
