"""A real uvicorn server on 127.0.0.1 in a background thread, for browser and streaming tests."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import httpx
import uvicorn


class LiveServer:
    def __init__(self, app: Any) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))  # port 0: the OS picks a free one, no race
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        config = uvicorn.Config(
            app, lifespan="on", log_level="warning", timeout_graceful_shutdown=2
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]})

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the live server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


class LiveBrowser(httpx.Client):
    """A person's browser against a live server over real HTTP: sends the CSRF token."""

    def csrf_token(self) -> str:
        if not self.cookies.get("csrftoken"):
            self.get("/login")
        return self.cookies.get("csrftoken") or ""

    def submit(self, url: str, data: dict[str, Any] | None = None) -> httpx.Response:
        return self.post(url, data={**(data or {}), "csrftoken": self.csrf_token()})

    def htmx(self, method: str, url: str, data: dict[str, Any] | None = None) -> httpx.Response:
        headers = {"HX-Request": "true", "x-csrftoken": self.csrf_token()}
        return self.request(method, url, data=data, headers=headers)

    def login(self, email: str, password: str = "password123") -> httpx.Response:
        response = self.submit("/login", {"email": email, "password": password})
        assert response.status_code == 200, response.text
        return response
