"""Errors as people and machines see them: a page in plain words or JSON, never a stack trace;
an unexpected error logged once, with method and path."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from core.calculator import CalculatorError
from core.errors import Conflict, NotFound, ValidationError
from core.telephony.pbx_client import PbxNotConnected, PbxUnreachable
from tests.support.pages import text_of
from web.app import create_app


def _with_route(settings: Any, path: str, endpoint: Any, *, machine: bool = False) -> Starlette:
    """The app with one more route, on the browser side or beside the machines' routes."""
    app = create_app(settings)
    if machine:
        app.router.routes.insert(0, Route(path, endpoint))
    else:
        browser_side = next(r for r in app.router.routes if isinstance(r, Mount) and r.path == "")
        browser_side.routes.append(Route(path, endpoint))
    return app


def _raising(exc: Exception) -> Any:
    async def endpoint(request: Any) -> Any:
        raise exc

    return endpoint


def test_unknown_pages_are_a_friendly_404(browser):
    response = browser.get("/no-such-page")
    assert response.status_code == 404 and "Такой страницы нет" in text_of(response)


def test_a_crash_is_a_500_page_without_internals_logged_once(settings, caplog):
    app = _with_route(settings, "/boom", _raising(RuntimeError("secret internals")))
    with caplog.at_level(logging.ERROR), TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom?x=1")
    assert response.status_code == 500
    assert "Что-то пошло не так" in response.text
    assert "secret internals" not in response.text and "Traceback" not in response.text
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert len(tracebacks) == 1
    assert "GET /boom" in tracebacks[0].getMessage()


def test_a_crash_on_a_machine_route_is_json(settings, caplog):
    app = _with_route(settings, "/api-boom", _raising(RuntimeError("secret")), machine=True)
    with caplog.at_level(logging.ERROR), TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/api-boom")
    assert response.status_code == 500
    assert set(response.json()) == {"error"} and "secret" not in response.text
    assert len([r for r in caplog.records if r.exc_info]) == 1


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (NotFound("нет такого"), 404),
        (Conflict("нельзя"), 409),
        (ValidationError.single("name", "пусто"), 422),
        # a subclass is answered as its family
        (CalculatorError.single("line", "строка 1: ошибка"), 422),
        (PbxUnreachable("https://vats.example", "нет ответа за 10 с"), 502),
        (PbxNotConnected(), 409),
    ],
)
def test_domain_errors_carry_their_status(settings, error, status):
    browser_app = _with_route(settings, "/fails", _raising(error))
    machine_app = _with_route(settings, "/fails", _raising(error), machine=True)
    with TestClient(browser_app) as client:
        page = client.get("/fails")
    with TestClient(machine_app) as client:
        answer = client.get("/fails")
    assert page.status_code == answer.status_code == status
    assert "text/html" in page.headers["content-type"]
    assert answer.json()["error"]


def test_machines_get_json_for_wrong_methods_and_unknown_api_actions(browser):
    response = browser.put("/megafon_webhook")  # GET and POST are the PBX's
    assert response.status_code == 405 and "error" in response.json()
    response = browser.post("/api/some-key/no_such_action")
    assert response.status_code == 404 and "error" in response.json()


def test_a_slash_too_many_is_redirected_on_either_side(browser):
    response = browser.post("/megafon_webhook/", data={"cmd": "contact"}, follow_redirects=False)
    assert response.status_code == 307 and response.headers["location"].endswith("/megafon_webhook")
    response = browser.get("/clients/", follow_redirects=False)
    assert response.status_code == 307 and response.headers["location"].endswith("/clients")


def test_a_missing_static_file_is_a_page_for_people(browser):
    response = browser.get("/static/no-such-file.css")
    assert response.status_code == 404 and "Такой страницы нет" in text_of(response)
