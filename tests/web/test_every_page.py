"""Every page answers: signed in as an admin and as a manager, on the demo's data, a crawler
follows every link and every htmx GET it finds, and no address in a template is spelled out."""

from __future__ import annotations

import re
from collections import deque
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit

import pytest
from bs4 import BeautifulSoup

from core import clients, demo, dialogs, projects
from core.telephony import connection
from tests.support import builders
from tests.support.megafon import W3, W8

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
ORIGIN = "http://testserver"


def _found(html: str, base: str) -> list[tuple[str, bool]]:
    """The internal addresses a page leads to by GET, each with whether htmx asks for it."""
    soup = BeautifulSoup(html, "html.parser")
    found = [(a["href"], False) for a in soup.select("a[href]")]
    found += [(f["action"], False) for f in soup.select("form[action]") if f.get("method") == "get"]
    found += [(e["href"], False) for e in soup.select("link[href]")]
    found += [(e["src"], False) for e in soup.select("script[src], img[src]")]
    found += [(e["hx-get"], True) for e in soup.select("[hx-get]")]
    addresses = []
    for raw, htmx in found:
        url = urldefrag(urljoin(base, raw)).url
        if url.startswith(ORIGIN + "/"):
            addresses.append((url.removeprefix(ORIGIN), htmx))
    return addresses


def crawl(browser: Any, start: str) -> tuple[list[str], set[tuple[str, bool]]]:
    """GET every address reachable from `start` (never a POST: nothing changes); the failures,
    each with the page that led to it, and what was visited."""
    queue = deque([(start, False, "(start)")])
    seen: set[tuple[str, bool]] = set()
    failures = []
    while queue:
        url, htmx, referrer = queue.popleft()
        if (url, htmx) in seen:
            continue
        seen.add((url, htmx))
        response = browser.get(url, headers={"HX-Request": "true"} if htmx else {})
        if response.status_code >= 500 or response.status_code == 404:
            failures.append(f"{response.status_code} GET {url} (htmx: {htmx}), found on {referrer}")
            continue
        if response.headers.get("content-type", "").startswith("text/html"):
            # The live stream (`sse-connect`) never ends: tests/web/test_live_updates.py reads it.
            for found, found_htmx in _found(response.text, ORIGIN + url):
                queue.append((found, found_htmx, url))
    return failures, seen


@pytest.fixture
def demo_crm(browser: Any) -> dict[str, Any]:
    """The demo project with a second page of clients, a dialog longer than a page, a PBX
    connection and calls the PBX told us about; and a manager who calls through it."""
    email, password = browser.run(demo.fill, browser.passwords, clients_count=clients.PAGE_SIZE)
    browser.login(email, password)
    admin = browser.get("/clients").context["user"]
    project_id = admin["project_id"]
    for n in range(dialogs.PAGE_SIZE):
        browser.run(dialogs.add_note, project_id, 1, admin["id"], f"Заметка {n}")
    browser.run(connection.save, project_id, "demo-pbx-token-12345", "vats123456.megapbx.ru")
    manager = browser.run(
        builders.manager,
        project_id,
        email="crawler@demo.example",
        call_method="megafon_api",
        pbx_user="702",
    )
    api_key = browser.run(projects.get_project, project_id)["api_key"]
    for webhook in (W3, W8, {**W8, "callid": "broken", "start": "not a time"}):
        browser.post("/megafon_webhook", data={**webhook, "crm_token": api_key})
    return {"admin": (email, password), "manager": (manager["email"], builders.PASSWORD)}


@pytest.mark.parametrize("role", ["admin", "manager"])
def test_every_link_and_htmx_get_answers_without_a_server_error(browser, demo_crm, role):
    browser.cookies.clear()
    browser.login(*demo_crm[role])
    failures, seen = crawl(browser, "/")
    assert not failures, "\n".join(failures)
    visited = {urlsplit(url).path for url, _ in seen}
    assert "/clients" in visited and any(path.startswith("/clients/") for path in visited)
    assert any("before=" in url for url, _ in seen)  # the next page, the earlier messages
    if role == "admin":
        assert {"/telephony/megafon", "/webhooks", "/bot", "/settings"} <= visited
        assert ("/telephony/megafon?edit=1", False) in seen
        assert any(htmx for _, htmx in seen)
    else:
        assert not visited & {"/employees", "/telephony", "/settings", "/webhooks"}


LITERAL_PATH = re.compile(r'\b(href|action|src|hx-get|hx-post|sse-connect)="/')


def test_templates_build_every_internal_address_from_a_route_name():
    literal = [
        f"{path.relative_to(TEMPLATES)}:{number}: {line.strip()}"
        for path in sorted(TEMPLATES.rglob("*.html"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if LITERAL_PATH.search(line)
    ]
    assert not literal, "use url_for(...):\n" + "\n".join(literal)
