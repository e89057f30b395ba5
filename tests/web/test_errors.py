"""Errors as people see them: a page in plain words, never a stack trace."""

from starlette.routing import Route
from starlette.testclient import TestClient

from tests.conftest import text_of
from web.app import create_app


def test_unknown_pages_are_a_friendly_404(browser):
    response = browser.get("/no-such-page")
    assert response.status_code == 404 and "Такой страницы нет" in text_of(response)


def test_a_crash_is_a_500_page_without_internals(settings):
    app = create_app(settings)

    async def boom(request):
        raise RuntimeError("secret internals")

    app.router.routes.append(Route("/boom", boom))
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom")
    assert response.status_code == 500
    assert "Что-то пошло не так" in response.text
    assert "secret internals" not in response.text and "Traceback" not in response.text
