"""Сотрудники: list, add, edit, deactivate, and the call method with its PBX field."""

from core import employees
from tests.support import builders
from tests.support.pages import page, text_of


def signed_in_admin(browser):
    admin = browser.run(builders.admin, email="anna@romashka.ru")
    browser.login("anna@romashka.ru")
    return admin


def employee_form(**overrides):
    form = {
        "name": "Иван Петров",
        "email": "ivan@romashka.ru",
        "role": "manager",
        "password": "secret123",
        "call_method": "disabled",
        "pbx_user": "",
    }
    return {**form, **overrides}


def test_the_form_offers_exactly_the_salebot_call_methods(browser):
    signed_in_admin(browser)
    html = page(browser.get("/employees/new"))
    legend = html.select_one("fieldset.radios legend").get_text(strip=True)
    assert legend == "Способ совершения телефонных звонков"
    labels = [label.get_text(strip=True) for label in html.select("fieldset.radios label")]
    assert labels == ["Отключить звонки", "Звонки через приложение", "Звонки по API Megafon"]
    assert html.select_one("#f-pbx_user") is None


def test_choosing_the_megafon_api_reveals_the_pbx_field_as_a_fragment(browser):
    signed_in_admin(browser)
    shown = browser.htmx("GET", "/employees/pbx-user-field?call_method=megafon_api&pbx_user=701")
    html = page(shown)
    assert html.select_one("#pbx-user-field #f-pbx_user")["value"] == "701"
    assert html.select_one("#f-pbx_user").has_attr("required")
    assert "личном кабинете" in html.get_text()
    assert "<html" not in shown.text
    hidden = browser.htmx("GET", "/employees/pbx-user-field?call_method=app")
    assert page(hidden).select_one("#f-pbx_user") is None


def test_add_an_employee_with_calls_via_megafon_api(browser):
    admin = signed_in_admin(browser)
    response = browser.submit(
        "/employees/new",
        employee_form(call_method="megafon_api", pbx_user="ivan@vats123456.megapbx.ru"),
    )
    assert response.url.path == "/employees"
    row = next(tr for tr in page(response).select("tbody tr") if "Иван Петров" in tr.get_text())
    assert (
        "Звонки по API Megafon" in row.get_text() and "ivan@vats123456.megapbx.ru" in row.get_text()
    )
    stored = [
        e
        for e in browser.run(employees.list_employees, admin["project_id"])
        if e["email"] == "ivan@romashka.ru"
    ]
    assert stored[0]["pbx_user"] == "ivan@vats123456.megapbx.ru"


def test_a_missing_or_bad_pbx_login_is_explained_and_nothing_is_saved(browser):
    admin = signed_in_admin(browser)
    response = browser.submit(
        "/employees/new", employee_form(call_method="megafon_api", pbx_user="кто-то")
    )
    assert response.status_code == 422
    html = page(response)
    assert "admin@vats123456.megapbx.ru" in html.select_one("#e-pbx_user").get_text()
    assert html.select_one("#f-name")["value"] == "Иван Петров"
    assert len(browser.run(employees.list_employees, admin["project_id"])) == 1


def test_edit_keeps_the_password_unless_a_new_one_is_given_and_resets_it_when_given(browser):
    admin = signed_in_admin(browser)
    manager = browser.run(builders.manager, admin["project_id"], email="ivan@romashka.ru")
    form = page(browser.get(f"/employees/{manager['id']}"))
    assert form.select_one("#f-email")["value"] == "ivan@romashka.ru"
    browser.submit(f"/employees/{manager['id']}", employee_form(password="", call_method="app"))
    browser.submit(f"/employees/{manager['id']}", employee_form(password="brand-new-pass"))
    browser.submit("/logout")
    browser.get("/login")
    assert (
        browser.submit(
            "/login", {"email": "ivan@romashka.ru", "password": builders.PASSWORD}
        ).status_code
        == 401
    )
    assert (
        browser.submit(
            "/login", {"email": "ivan@romashka.ru", "password": "brand-new-pass"}
        ).status_code
        == 200
    )


def test_deactivate_and_reactivate(browser):
    admin = signed_in_admin(browser)
    manager = browser.run(builders.manager, admin["project_id"], email="ivan@romashka.ru")
    listing = browser.submit(f"/employees/{manager['id']}/deactivate")
    assert "отключён" in text_of(listing)
    listing = browser.submit(f"/employees/{manager['id']}/activate")
    assert "отключён" not in text_of(listing)


def test_an_admin_cannot_deactivate_themselves(browser):
    admin = signed_in_admin(browser)
    response = browser.submit(f"/employees/{admin['id']}/deactivate")
    assert response.status_code == 409 and "самого себя" in text_of(response)


def test_employees_of_another_project_are_not_found(browser):
    signed_in_admin(browser)
    stranger = browser.run(builders.admin, project="Лютик")
    assert browser.get(f"/employees/{stranger['id']}").status_code == 404
    assert browser.submit(f"/employees/{stranger['id']}/deactivate").status_code == 404
