"""The public API, Salebot style: /api/<api_key>/<action>."""

import pytest

from core import dialogs, projects, variables
from tests.support import builders


@pytest.fixture
def project(browser):
    admin = browser.run(builders.admin)
    key = browser.run(projects.generate_api_key, admin["project_id"])
    client = browser.run(builders.client, admin["project_id"], phone="+7 916 123-45-67")
    return {"key": key, "client": client, "project_id": admin["project_id"]}


def test_callback_by_phone_as_form_or_json(browser, project):
    by_form = browser.post(
        f"/api/{project['key']}/callback",
        data={"client_phone": "89161234567", "message": "оплачено"},
    )
    assert by_form.status_code == 200 and by_form.json()["client_id"] == project["client"]["id"]
    by_json = browser.post(
        f"/api/{project['key']}/callback",
        json={"client_id": project["client"]["id"], "message": "ещё"},
    )
    assert by_json.status_code == 200
    page = browser.run(dialogs.dialog, project["project_id"], project["client"]["id"])
    assert [m["text"] for m in page.messages] == ["оплачено", "ещё"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"message": "x"}, 422),
        ({"client_phone": "79990000000", "message": "x"}, 404),
        ({"client_phone": "не номер", "message": "x"}, 422),
    ],
)
def test_callback_errors_are_json_with_a_reason(browser, project, body, status):
    response = browser.post(f"/api/{project['key']}/callback", data=body)
    assert response.status_code == status and response.json()["error"]


def test_a_wrong_key_is_401_and_a_bad_json_body_is_422(browser, project):
    wrong = browser.post("/api/not-a-key/callback", data={"client_id": "1", "message": "x"})
    assert wrong.status_code == 401 and wrong.json() == {"error": "Invalid token"}
    bad = browser.post(
        f"/api/{project['key']}/callback",
        content=b"{oops",
        headers={"content-type": "application/json"},
    )
    assert bad.status_code == 422


def test_json_values_are_read_as_salebots_api_reads_them(browser, project):
    """A null is empty, a BOM is no obstacle, NUL characters are dropped."""
    response = browser.post(
        f"/api/{project['key']}/callback",
        content='\ufeff{"client_id": ' + str(project["client"]["id"]) + ","
        ' "message": "при\\u0000вет", "city": null}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    page = browser.run(dialogs.dialog, project["project_id"], project["client"]["id"])
    assert page.messages[-1]["text"] == "привет"


def test_a_callback_with_a_thousand_variables_is_refused_and_stores_nothing(browser, project):
    client_id = project["client"]["id"]
    flood = {f"v{n}": "x" for n in range(1000)}
    response = browser.post(
        f"/api/{project['key']}/callback",
        data={"client_id": str(client_id), "message": "оплачено", **flood},
    )
    assert response.status_code == 422
    assert response.json()["details"] == {
        "variables": "За один раз можно задать не больше 50 переменных, а задано 1000."
    }
    assert browser.run(variables.list_variables, client_id) == []
    assert browser.run(dialogs.dialog, project["project_id"], client_id).messages == []
