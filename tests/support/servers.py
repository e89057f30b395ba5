"""Real servers on 127.0.0.1 for browser and streaming tests: uvicorn in a background thread
(`LiveServer`) or the app's own command in a process of its own (`AppProcess`), and a live
stream read as a browser tab reads it (`Stream`)."""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from httpx_sse import EventSource, ServerSentEvent

ROOT = Path(__file__).resolve().parents[2]  # the repository: `python -m web` runs from there


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

    def login(self, email: str, password: str = "kitchen-window-42") -> httpx.Response:
        response = self.submit("/login", {"email": email, "password": password})
        assert response.status_code == 200, response.text
        return response


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class AppProcess:
    """`python -m web serve` in a process of its own, as in production: a real SIGTERM stops it,
    and its log is kept (`log`)."""

    def __init__(self, database_url: str, port: int | None = None, *args: str, **env: str) -> None:
        self.port = port or free_port()
        self.args = args  # more options of `serve`
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "SECRET_KEY": "live-tests",  # one key: a session signed by one process is good for all
            "SSE_PING": "1",
            "PBX_ALLOW_PRIVATE": "1",  # the PBX is our simulator on 127.0.0.1
            **env,
        }
        self.process: subprocess.Popen[str] | None = None
        self.log = ""

    def __enter__(self) -> AppProcess:
        self._output = tempfile.TemporaryFile("w+")  # a pipe could fill up and stall the app
        self.process = subprocess.Popen(
            [sys.executable, "-m", "web", "serve", "--port", str(self.port), *self.args],
            cwd=ROOT,
            env=self.env,
            stdout=self._output,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(self.url + "/login", timeout=1).status_code < 500:
                    return self
            except httpx.TransportError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the app did not start:\n{self.log}")
            time.sleep(0.1)

    def stop(self) -> str:
        """SIGTERM, as a service manager sends it; the process's whole log."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if self.process is not None:
            self._output.seek(0)
            self.log += self._output.read()
            self._output.close()
        self.process = None
        return self.log

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Stream:
    """A live stream (`/events`) as one browser tab holds it, read in a background thread.

    `next()` returns the next event (None once the stream has ended); `received` keeps all."""

    def __init__(self, client: httpx.Client, url: str, last_event_id: str | None = None) -> None:
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-store"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        # The servers under test ping every second: a read never blocks longer than that.
        request = client.build_request(
            "GET", url, headers=headers, timeout=httpx.Timeout(10, read=10)
        )
        self.response = client.send(request, stream=True)
        self.status_code = self.response.status_code
        self.received: list[ServerSentEvent] = []
        self.error: Exception | None = None
        self._queue: queue.Queue[ServerSentEvent | None] = queue.Queue()
        self._closing = False
        self._thread = threading.Thread(target=self._read, daemon=True)
        if self.status_code == 200:
            self._thread.start()

    def _read(self) -> None:
        try:
            for event in EventSource(self.response).iter_sse():
                if event.event == "message" and not event.data:
                    continue  # a comment (": connected", pings): browsers dispatch nothing
                self._queue.put(event)
                if self._closing:
                    break
        except Exception as e:  # the connection broke: the test decides whether that is fine
            if not self._closing:
                self.error = e
        finally:
            self._queue.put(None)

    def next(self, timeout: float = 5) -> ServerSentEvent | None:
        try:
            event = self._queue.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no event within {timeout} s") from None
        if event is not None:
            self.received.append(event)
        else:
            self._queue.put(None)  # ended: stays ended
        return event

    def wait_for(self, name: str, timeout: float = 5) -> ServerSentEvent:
        """The next event called `name`; the ones before it stay in `received`."""
        deadline = time.monotonic() + timeout
        while True:
            event = self.next(max(0.01, deadline - time.monotonic()))
            if event is None:
                raise AssertionError(f"the stream ended before a {name!r} event")
            if event.event == name:
                return event

    def quiet(self, seconds: float = 0.5) -> list[ServerSentEvent]:
        """Everything that arrives within `seconds` (to show that nothing else does)."""
        got = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                event = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if event is None:
                self._queue.put(None)
                break
            self.received.append(event)
            got.append(event)
        return got

    def close(self) -> None:
        self._closing = True
        self.response.close()
        if self._thread.is_alive():
            self._thread.join(5)

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
