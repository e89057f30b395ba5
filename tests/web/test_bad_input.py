"""Bad input gets a 4xx that says what is wrong, never a 500: bodies over the limit (refused
before they are read), forms the CSRF check cannot read, lone surrogates, ids no row can have."""

from __future__ import annotations

import json
import select
import socket
from urllib.parse import urlsplit

import pytest

from core import dialogs, projects
from core.telephony import inbox
from tests.support import builders
from tests.support.pages import text_of
from tests.support.servers import LiveServer
from web.app import create_app
from web.body_limits import MAX_FORM_BODY
from web.payload import MAX_BODY


@pytest.fixture
def server(settings):
    with LiveServer(create_app(settings)) as live:
        yield live


def _connect(url: str) -> socket.socket:
    address = urlsplit(url)
    sock = socket.create_connection((address.hostname, address.port), timeout=10)
    return sock


def _answer(sock: socket.socket) -> str:
    """The status line and headers of the answer."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data.split(b"\r\n\r\n")[0].decode("latin-1")


@pytest.mark.parametrize(
    ("path", "limit", "kind"),
    [
        ("/megafon_webhook", MAX_BODY, "application/json"),
        ("/api/any-key/callback", MAX_BODY, "application/json"),
        ("/login", MAX_FORM_BODY, "text/html"),
    ],
)
def test_a_declared_oversized_body_is_413_before_a_byte_of_it_is_sent(server, path, limit, kind):
    with _connect(server.url) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded"
            f"\r\nContent-Length: {200 * 1024 * 1024}\r\n\r\n".encode()
        )
        head = _answer(sock)  # no body was sent at all: the answer cannot have waited for it
    assert head.startswith("HTTP/1.1 413")
    assert f"content-type: {kind}" in head.lower()
    assert limit < 200 * 1024 * 1024


@pytest.mark.parametrize(
    ("path", "limit"), [("/megafon_webhook", MAX_BODY), ("/login", MAX_FORM_BODY)]
)
def test_a_streamed_body_is_cut_off_at_the_limit(server, path, limit):
    """Chunked, without a length: the answer comes once the limit is crossed, not at the end."""
    chunk = b"x" * 16384
    sent = 0
    with _connect(server.url) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n\r\n".encode()
        )
        while sent < 200 * 1024 * 1024:
            if select.select([sock], [], [], 0)[0]:
                break  # answered
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except OSError:  # the server closed the connection after answering
                break
            sent += len(chunk)
        head = _answer(sock)
    assert head.startswith("HTTP/1.1 413"), head
    # what was sent beyond the limit is what the sockets' buffers took meanwhile
    assert limit < sent < limit + 16 * 1024 * 1024


@pytest.mark.parametrize(
    ("path", "limit"), [("/megafon_webhook", MAX_BODY), ("/login", MAX_FORM_BODY)]
)
def test_a_body_of_exactly_the_limit_is_read(browser, path, limit):
    def post(size: int) -> int:
        body = b"email=a%40b.ru&pad=" + b"x" * (size - 19)
        assert len(body) == size
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        return browser.post(path, content=body, headers=headers).status_code

    assert post(limit) not in (413, 500)
    assert post(limit + 1) == 413


def test_a_sign_in_form_that_is_not_utf8_is_400_in_words(browser):
    token = browser.csrf_token()
    response = browser.post(
        "/login",
        content=b"email=\xff\xfe@example.com&password=x&csrftoken=" + token.encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 400
    assert "не в кодировке UTF-8" in text_of(response)


@pytest.mark.parametrize("path", ["/login", "/clients/new", "/language"])
def test_a_multipart_form_with_a_cookie_is_refused_in_words(browser, path):
    token = browser.csrf_token()  # the CSRF cookie is set: asgi-csrf would parse the body
    response = browser.post(
        path,
        data={"email": "a@example.com", "password": "x", "csrftoken": token},
        files={"attachment": ("a.txt", b"hello")},
    )
    assert response.status_code == 415
    assert "такой вид формы не принимается" in text_of(response)


@pytest.fixture
def key(browser):
    admin = browser.run(builders.admin)
    return {
        "key": browser.run(projects.generate_api_key, admin["project_id"]),
        "project_id": admin["project_id"],
    }


@pytest.mark.parametrize("cmd", ["event", "contact", "history"])
def test_a_lone_surrogate_with_the_right_key_is_answered_and_journaled(browser, key, cmd):
    body = (
        f'{{"crm_token": "{key["key"]}", "cmd": "{cmd}", "type": "INCOMING",'
        ' "callid": "\\udfff-1", "phone": "79161234567", "user": "\\ud800",'
        ' "status": "Success", "\\udfff": "x"}'
    )
    response = browser.post(
        "/megafon_webhook", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code in (200, 400), response.text
    [delivery], _ = browser.run(inbox.journal, key["project_id"])
    assert delivery["fields"]["callid"] == "\ufffd-1"
    assert delivery["fields"]["user"] == "\ufffd" and delivery["fields"]["\ufffd"] == "x"


def test_a_lone_surrogate_in_the_key_itself_is_a_wrong_key(browser):
    response = browser.post(
        "/megafon_webhook",
        content='{"crm_token": "\\udfff", "cmd": "contact"}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 401


def test_a_lone_surrogate_in_an_api_callback_is_stored_as_a_replacement_character(browser, key):
    client = browser.run(builders.client, key["project_id"], phone="79161234567")
    response = browser.post(
        f"/api/{key['key']}/callback",
        content=f'{{"client_id": {client["id"]}, "message": "ok \\udfff"}}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    page = browser.run(dialogs.dialog, key["project_id"], client["id"])
    assert [m["text"] for m in page.messages] == ["ok \ufffd"]


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ('{"a": ' + "[" * 40 + "]" * 40 + "}", "уровней вложенности"),
        ("[" * 30_000, "не JSON"),
        ('{"a": ' + "9" * 5000 + "}", "не JSON"),
    ],
)
def test_deep_or_huge_json_in_the_api_is_422_in_words(browser, key, body, says):
    response = browser.post(
        f"/api/{key['key']}/callback", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422 and says in response.json()["error"]


@pytest.mark.parametrize(
    "path",
    [
        "/clients/99999999999999999999999",
        "/clients/9223372036854775808",
        "/clients/2147483648",
        "/clients/²",
        "/clients/١",
        "/employees/99999999999999999999",
        "/bot/99999999999999999999",
        "/clients/1/call/99999999999999999999",
    ],
)
def test_an_id_no_row_can_have_is_a_404_page(browser, path):
    admin = browser.run(builders.admin)
    browser.login(admin["email"])
    response = browser.get(path)
    assert response.status_code == 404
    assert "Страница не найдена" in text_of(response)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/webhooks/99999999999999999999/rerun"),
        ("POST", "/clients/99999999999999999999/notes"),
        ("POST", "/clients/4294967296/edit"),
    ],
)
def test_posting_to_an_id_no_row_can_have_is_a_404(browser, method, path):
    admin = browser.run(builders.admin)
    browser.login(admin["email"])
    response = browser.request(method, path, data={"text": "x", "csrftoken": browser.csrf_token()})
    assert response.status_code == 404


@pytest.mark.parametrize("cursor", ["99999999999999999999", "²", "-1", "1e3"])
def test_a_cursor_that_is_not_an_id_shows_the_first_page(browser, cursor):
    admin = browser.run(builders.admin)
    browser.login(admin["email"])
    browser.run(builders.client, admin["project_id"], name="Анна Петрова")
    for path in ("/clients", "/webhooks"):
        response = browser.get(path, params={"before": cursor})
        assert response.status_code == 200
    assert "Анна Петрова" in text_of(browser.get("/clients", params={"before": cursor}))


def test_a_journaled_payload_is_json_a_database_takes(browser, key):
    browser.post(
        "/megafon_webhook",
        content=json.dumps({"crm_token": key["key"], "cmd": "event", "\udfff": "\ud800"}),
        headers={"Content-Type": "application/json"},
    )
    [delivery], _ = browser.run(inbox.journal, key["project_id"])
    assert json.loads(delivery["payload"]) == {"cmd": "event", "\ufffd": "\ufffd"}
