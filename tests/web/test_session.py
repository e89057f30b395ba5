"""First run, sign-in, sign-out, sessions and the CSRF guard."""

from core import employees, setup_code
from core.passwords import Passwords
from tests.support import builders
from tests.support.pages import page, text_of


def setup_form(browser, **overrides):
    form = {
        "setup_code": browser.run(setup_code.current),  # as printed on the server's console
        "project": "Ромашка",
        "name": "Анна",
        "email": "anna@romashka.ru",
        "password": "secret123",
        "password_confirm": "secret123",
    }
    return {**form, **overrides}


def test_a_fresh_install_sends_the_first_visitor_to_setup(browser):
    response = browser.get("/")
    assert response.url.path == "/setup"
    assert "Создать проект" in text_of(response)
    assert browser.get("/login").url.path == "/setup"


def test_setup_creates_project_and_admin_and_signs_in(browser):
    browser.get("/setup")
    response = browser.submit("/setup", setup_form(browser))
    assert response.url.path == "/settings"
    assert "Ключ доступа к API" in text_of(response)
    # Setup is over: the page now leads to login, and a second setup changes nothing.
    browser.post("/logout", data={"csrftoken": browser.csrf_token()})
    assert browser.get("/setup").url.path == "/login"
    again = browser.submit("/setup", setup_form(browser, email="evil@x.ru"))
    assert again.url.path == "/login"
    bad = browser.submit("/login", {"email": "evil@x.ru", "password": "secret123"})
    assert bad.status_code == 401


def test_setup_names_each_mistake_and_keeps_what_was_typed(browser):
    browser.get("/setup")
    response = browser.submit(
        "/setup", setup_form(browser, email="не-почта", password="123", password_confirm="456")
    )
    assert response.status_code == 422
    html = page(response)
    assert html.select_one("#e-password_confirm").get_text() == "Пароли не совпадают."
    assert html.select_one("#f-project")["value"] == "Ромашка"
    assert browser.get("/").url.path == "/setup"


def test_setup_asks_for_the_code_printed_on_the_console(browser):
    page_html = page(browser.get("/setup"))
    assert page_html.select_one("label[for=f-setup_code]").get_text().startswith("Код установки")
    code = browser.run(setup_code.current)
    assert code and len(code.replace("-", "")) >= 12
    for wrong in ["", "AAAA-BBBB-CCCC"]:
        response = browser.submit("/setup", setup_form(browser, setup_code=wrong))
        assert response.status_code == 422
        error = page(response).select_one("#e-setup_code").get_text()
        assert error.startswith("Неверный код установки")
    assert browser.get("/").url.path == "/setup"
    assert browser.run(setup_code.current) == code  # a wrong guess changes nothing
    # Typed by hand: case, spaces and dashes do not matter.
    typed = " " + code.replace("-", " ").lower()
    response = browser.submit("/setup", setup_form(browser, setup_code=typed))
    assert response.url.path == "/settings"
    assert browser.run(setup_code.current) is None


def test_create_admin_needs_no_setup_code_and_ends_it(browser):
    assert browser.run(setup_code.current)
    boss = employees.EmployeeInput(
        name="Борис", email="boss@romashka.ru", password="Tr0mashka-b0ss"
    )
    browser.run(employees.create_admin, Passwords(cheap=True), "Ромашка", boss)
    assert browser.run(setup_code.current) is None


def test_login_and_logout(browser):
    admin = browser.run(builders.admin, email="anna@romashka.ru")
    response = browser.get("/clients")
    assert response.url.path == "/login" and response.url.query == b"next=/clients"
    wrong = browser.submit("/login", {"email": "anna@romashka.ru", "password": "nope-nope"})
    assert wrong.status_code == 401 and "Неверный email или пароль" in text_of(wrong)
    assert page(wrong).select_one("#f-email")["value"] == "anna@romashka.ru"
    ok = browser.submit(
        "/login?next=/employees",
        {"email": "ANNA@romashka.ru", "password": builders.PASSWORD, "next": "/employees"},
    )
    assert ok.url.path == "/employees" and admin["name"] in text_of(ok)
    browser.submit("/logout")
    assert browser.get("/clients").url.path == "/login"


def test_login_never_redirects_to_another_site(browser):
    browser.run(builders.admin, email="anna@romashka.ru")
    browser.get("/login")
    response = browser.submit(
        "/login",
        {"email": "anna@romashka.ru", "password": builders.PASSWORD, "next": "//evil.example/"},
    )
    assert response.url.path == "/clients" and response.url.host == "testserver"


def test_the_session_cookie_is_signed_httponly_and_samesite(browser):
    browser.run(builders.admin, email="anna@romashka.ru")
    response = browser.login("anna@romashka.ru")
    cookie = next(
        h
        for h in response.history[0].headers.get_list("set-cookie")
        if h.startswith("crm_session=")
    )
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()


def test_a_deactivated_employee_is_signed_out_on_the_next_click(browser):
    admin = browser.run(builders.admin)
    manager = browser.run(builders.manager, admin["project_id"], email="ivan@romashka.ru")
    browser.login("ivan@romashka.ru")
    from core import employees

    browser.run(
        employees.set_active, admin["project_id"], manager["id"], False, acting_user_id=admin["id"]
    )
    assert browser.get("/clients").url.path == "/login"


def test_forms_without_the_csrf_token_are_refused(browser):
    admin = browser.run(builders.admin, email="anna@romashka.ru")
    browser.login("anna@romashka.ru")
    response = browser.post("/settings/api-key", data={})
    assert response.status_code == 403
    assert "Страница устарела. Обновите её и повторите действие." in text_of(response)
    assert "did not match" not in response.text  # asgi-csrf's own English words
    from core import projects

    assert (browser.run(projects.get_project, admin["project_id"]))["api_key"] is None
    with_header = browser.htmx("POST", "/settings/api-key")
    assert with_header.status_code == 200


def test_the_language_switch_changes_the_interface(browser):
    browser.run(builders.admin, email="anna@romashka.ru")
    browser.login("anna@romashka.ru")
    english = browser.submit("/language", {"language": "en", "next": "/clients"})
    assert english.url.path == "/clients"
    assert page(english).html["lang"] == "en" and "Clients" in text_of(english)
    russian = browser.submit("/language", {"language": "ru", "next": "/clients"})
    assert "Клиенты" in text_of(russian)
