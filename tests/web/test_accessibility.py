"""Every form control on every page has a label a screen reader can read."""

from core import dialogs, projects, variables
from core.telephony import pbx_directory
from core.telephony.pbx_client import PbxUser
from tests.support import builders
from tests.support.pages import page


def unlabelled(html):
    missing = []
    for control in html.select("input, select, textarea"):
        if control.get("type") in {"hidden", "submit", "button"}:
            continue
        labelled = (
            control.get("aria-label")
            or (control.get("id") and html.find("label", attrs={"for": control["id"]}))
            or control.find_parent("label")
        )
        if not labelled:
            missing.append(str(control)[:80])
    return missing


def test_every_page_labels_its_inputs(browser):
    admin = browser.run(builders.admin, email="anna@romashka.ru")
    browser.run(projects.generate_api_key, admin["project_id"])
    browser.run(builders.set_call_method, admin, "megafon_api", "701")
    client = browser.run(builders.client, admin["project_id"])
    browser.run(variables.set_variable, admin["project_id"], client["id"], "city", "Москва")
    browser.run(dialogs.add_note, admin["project_id"], client["id"], admin["id"], "заметка")
    browser.run(pbx_directory.store, admin["project_id"], [PbxUser("ivanov", "Иван Иванов", "701")])
    assert unlabelled(page(browser.get("/login"))) == []
    browser.login("anna@romashka.ru")
    for url in [
        "/clients",
        "/clients/new",
        f"/clients/{client['id']}",
        f"/clients/{client['id']}/edit",
        "/employees",
        "/employees/new",
        f"/employees/{admin['id']}",
        "/employees/pbx",
        "/settings",
        "/settings/api-key/regenerate",
    ]:
        html = page(browser.get(url))
        assert unlabelled(html) == [], url
        assert html.html.get("lang") == "ru" and html.title.get_text().strip(), url
    call_button = page(browser.get(f"/clients/{client['id']}")).select_one("button.call-icon")
    assert call_button["aria-label"] == "Позвонить"
