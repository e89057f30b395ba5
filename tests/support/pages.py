"""The app as a person's browser uses it in-process (`Browser`), and what they read on a page."""

from __future__ import annotations

from typing import Any

from bs4 import BeautifulSoup
from starlette.testclient import TestClient


class Browser(TestClient):
    """A TestClient that behaves like a person's browser: it sends the CSRF token with forms."""

    def csrf_token(self) -> str:
        token = self.cookies.get("csrftoken")
        if not token:
            self.get("/login")
            token = self.cookies.get("csrftoken")
        return token or ""

    def submit(self, url: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        return self.post(url, data={**(data or {}), "csrftoken": self.csrf_token()}, **kwargs)

    def htmx(self, method: str, url: str, data: dict[str, Any] | None = None) -> Any:
        headers = {"HX-Request": "true", "x-csrftoken": self.csrf_token()}
        return self.request(method, url, data=data, headers=headers)

    def run(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run a `core` coroutine function against the app's own database."""

        async def call() -> Any:
            return await fn(self.app_state["db"], *args, **kwargs)

        return self.portal.call(call)

    @property
    def passwords(self) -> Any:
        return self.app_state["passwords"]

    def login(self, email: str, password: str = "kitchen-window-42") -> Any:
        self.get("/login")
        response = self.submit("/login", {"email": email, "password": password})
        assert response.status_code == 200, response.text
        return response


def page(response: Any) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


def text_of(response: Any) -> str:
    return " ".join(page(response).get_text(" ").split())


def fragment(html: str) -> BeautifulSoup:
    """A piece of HTML on its own, as an SSE event or an htmx response carries it."""
    return BeautifulSoup(html, "html.parser")


def texts(stream_events: list[Any]) -> list[str]:
    """The dialog messages among a live stream's events, as the dialog shows their text (a
    call's item, with the `megafon_call_*` lines it holds, is `call_lines`)."""
    found = []
    for event in stream_events:
        if event.event == "message":
            item = fragment(event.data).select_one(".system-text, .bubble p")
            assert item is not None, event.data
            found.append(item.get_text(strip=True))
    return found


def call_lines(html: str | Any) -> list[str]:
    """The `megafon_call_*` messages a call's item in the dialog shows, oldest first."""
    soup = fragment(html) if isinstance(html, str) else html
    return [line.get_text(strip=True) for line in soup.select(".call-line .system-text")]
