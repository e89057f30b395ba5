"""10,000 malformed bodies over real HTTP to the webhook, the API and the sign-in: not one 5xx,
and every webhook that carries the right key is in the journal, whatever else it carries."""

from __future__ import annotations

import dataclasses
import json
import random
import re
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from core import projects
from core.tables import webhook_deliveries
from tests.support import builders
from tests.support.databases import run_core
from tests.support.servers import LiveServer
from web.app import create_app
from web.payload import MAX_BODY

BODIES = 10_000
JSON, FORM = "application/json", "application/x-www-form-urlencoded"
CONTENT_TYPES = [
    JSON,
    FORM,
    "multipart/form-data",
    "multipart/form-data; boundary=zz",
    "multipart/form-data; boundary=",
    "text/plain",
    "application/xml",
    "application/json; charset=latin-1",
    "",
]
SAMPLES = [  # what the PBX and API programs really send, to be broken
    {"cmd": "history", "type": "in", "callid": "c1", "phone": "79161234567", "user": "ivanov",
     "status": "Success", "start": "20240315T091512Z", "duration": "5"},
    {"cmd": "event", "type": "INCOMING", "callid": "c2", "phone": "79161234567", "user": "ivanov"},
    {"cmd": "contact", "callid": "c3", "phone": "79161234567"},
    {"cmd": "rating", "callid": "c1", "rating": "5", "phone": "79161234567"},
    {"client_phone": "79161234567", "message": "оплачено", "user": "ivanov"},
]  # fmt: skip
ODD_VALUES = [
    "\udfff",
    "\ud800x",
    "\x00",
    "²",
    "١٢٣",
    "9" * 5000,
    "-0",
    "1e999",
    "x" * 20_000,
    "<script>alert(1)</script>",
    "'; DROP TABLE clients; --",
    "\u202e\ufeff",
    "79161234567" * 50,
    "",
]
SURROGATE = re.compile("[\ud800-\udfff]")
# any character but a surrogate (those come from ODD_VALUES, where the test knows them)
LETTERS = [chr(c) for c in [*range(0x20), *range(0x20, 0x3000, 7), *range(0xE000, 0x10FFFF, 4099)]]


@dataclasses.dataclass
class Sent:
    target: str
    keyed: bool  # a webhook body that can be read and carries the right key: journaled
    status: int = 0


class Fuzzer:
    """Malformed bodies, reproducible from a seed."""

    def __init__(self, seed: int, key: str, csrf: str) -> None:
        self.rnd, self.key, self.csrf = random.Random(seed), key, csrf

    def value(self) -> Any:
        r = self.rnd
        choice = r.randrange(9)
        if choice == 0:
            return r.choice(ODD_VALUES)
        if choice == 1:
            return r.randrange(-(10**30), 10**30)
        if choice == 2:
            return r.choice([None, True, False, 1.5, [], {}, [1, [2, [3]]], {"a": {"b": None}}])
        if choice == 3:
            return "".join(r.choice(LETTERS) for _ in range(r.randrange(8)))
        return r.choice(list(r.choice(SAMPLES).values()))

    def fields(self, keyed: bool) -> dict[str, Any]:
        r = self.rnd
        fields = dict(r.choice(SAMPLES))
        for _ in range(r.randrange(4)):
            fields[r.choice([*fields, "x", "\udfff", "crm_token", ""])] = self.value()
        if keyed:
            fields["crm_token"] = self.key
        return fields

    def body(self, keyed: bool) -> tuple[bytes, str, bool]:
        """A body, its content type, and whether a reader gets `crm_token` = the key from it."""
        r = self.rnd
        kind = r.randrange(12)
        fields = self.fields(keyed)
        if kind == 0:  # random bytes
            return r.randbytes(r.randrange(400)), r.choice(CONTENT_TYPES), False
        if kind == 1:  # JSON, with surrogates, huge numbers, odd values: readable
            text = json.dumps(fields)  # escapes lone surrogates as \udfff
            return text.encode(), r.choice([JSON, "text/plain", ""]), keyed
        if kind == 2:  # JSON cut short or with a byte changed (without the key: it may parse)
            text = json.dumps(self.fields(keyed=False)).encode()
            cut = r.randrange(len(text))
            if r.random() < 0.5:
                return text[:cut], JSON, False
            return text[:cut] + bytes([r.randrange(256)]) + text[cut + 1 :], JSON, False
        if kind == 3:  # deep nesting, over and under the limits
            depth = r.choice([31, 32, 33, 100, 999, 1000, 5000, 30_000, 40_000])
            opener = r.choice(["[", '{"a":', '{"crm_token":"x","v":['])
            return (opener * depth).encode() + b"1" + b"]" * r.randrange(depth), JSON, False
        if kind == 4:  # a form with invalid UTF-8, NULs and odd escapes in its values
            junk = r.choice([b"\xff\xfe", b"\xc3", b"%ff%fe", b"%ED%BF%BF", b"\x00", b"%00", b"+%"])
            body = f"crm_token={self.key if keyed else 'nope'}&cmd=event&phone=".encode() + junk
            return body + b"&csrftoken=" + self.csrf.encode(), r.choice([FORM, ""]), keyed
        if kind == 5:  # many fields, or one long one, still under the limit
            if r.random() < 0.5:
                body = "&".join(f"f{i}={i}" for i in range(r.randrange(100, 6000)))
            else:
                body = "message=" + "я" * r.randrange(1000, 30_000)
            token = f"crm_token={self.key}&" if keyed else ""
            return f"{token}{body}".encode(), FORM, keyed
        if kind == 6:  # over the limit
            return b"a=" + b"x" * r.randrange(64 * 1024, 80 * 1024), FORM, False
        if kind == 7:  # multipart, well-formed or broken, with a file or not (and no key)
            parts = [
                f'--zz\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
                for k, v in self.fields(keyed=False).items()
                if isinstance(v, str) and not SURROGATE.search(k + v)
            ]
            if r.random() < 0.3:
                parts.append(
                    '--zz\r\nContent-Disposition: form-data; name="f"; filename="a.txt"\r\n'
                    "Content-Type: text/plain\r\n\r\nhello\r\n"
                )
            body = "".join(parts) + r.choice(["--zz--\r\n", "--zz", "", "--yy--\r\n"])
            return body.encode(), "multipart/form-data; boundary=zz", False
        if kind == 8:  # a JSON value that is not an object
            return json.dumps(r.choice([[1], "x", 1, None, [fields]])).encode(), JSON, False
        if kind == 9:  # a form, well-formed, with the CSRF field for the sign-in
            data = {k: v if isinstance(v, str) else json.dumps(v) for k, v in fields.items()}
            data = {k: v for k, v in data.items() if not SURROGATE.search(k + v)}
            data["csrftoken"] = self.csrf
            return str(httpx.QueryParams(data)).encode(), FORM, keyed
        if kind == 10:  # JSON with a wrong content type, or a form sent as JSON
            if r.random() < 0.5:
                return json.dumps(fields).encode(), FORM, keyed
            return b"cmd=event&crm_token=" + self.key.encode(), JSON, False
        # JSON with odd whitespace, a BOM, duplicate keys
        text = json.dumps(fields)
        body = r.choice(["\ufeff", " \n\t", ""]) + text.replace(":", r.choice([":", " : "]), 1)
        return body.encode(), JSON, keyed

    def requests(self, count: int) -> Iterator[tuple[Sent, str, bytes, str]]:
        for _ in range(count):
            target = self.rnd.choice(["webhook", "webhook", "callback", "megafon_call", "login"])
            keyed = self.rnd.random() < 0.6
            body, content_type, readable = self.body(keyed)
            path = {
                "webhook": "/megafon_webhook",
                "callback": f"/api/{self.key if keyed else 'wrong-key'}/callback",
                "megafon_call": f"/api/{self.key if keyed else 'wrong-key'}/megafon_call",
                "login": "/login",
            }[target]
            readable = readable and len(body) <= MAX_BODY
            yield Sent(target, target == "webhook" and readable), path, body, content_type


@pytest.fixture
def server(settings):
    settings = dataclasses.replace(settings, login_limits="1000000/minute")
    with LiveServer(create_app(settings)) as live:
        yield live


def test_ten_thousand_malformed_bodies_get_no_5xx_and_keyed_webhooks_are_journaled(
    server, settings
):
    admin = run_core(settings.database_url, builders.admin)
    key = run_core(settings.database_url, projects.generate_api_key, admin["project_id"])
    with httpx.Client(base_url=server.url, timeout=30) as client:
        client.get("/login")
        fuzzer = Fuzzer(seed=11, key=key, csrf=client.cookies["csrftoken"])
        sent = []
        started = time.monotonic()
        for request, path, body, content_type in fuzzer.requests(BODIES):
            headers = {"content-type": content_type} if content_type else {}
            response = client.post(path, content=body, headers=headers)
            request.status = response.status_code
            assert response.status_code < 500, (path, content_type, body[:300], response.text)
            sent.append(request)
        took = time.monotonic() - started
    statuses = Counter((r.target, r.status) for r in sent)
    print(f"\n{len(sent)} bodies in {took:.1f} s: {sorted(statuses.items())}")
    assert len(sent) == BODIES
    # each kind of refusal was met, and sign-ins were read as far as the password check
    assert statuses[("webhook", 413)] > 100 and statuses[("webhook", 400)] > 1000
    assert statuses[("login", 400)] > 20 and statuses[("login", 415)] > 100
    assert statuses[("login", 401)] > 100
    keyed = sum(r.keyed for r in sent)
    assert keyed > 1000
    assert all(r.status in (200, 400) for r in sent if r.keyed)

    def journaled() -> int:
        query = sa.select(sa.func.count()).select_from(webhook_deliveries)
        return int(run_core(settings.database_url, lambda db: db.fetch_val(query)))

    deadline = time.monotonic() + 10  # `contact`'s journal line joins the next commit
    while journaled() < keyed and time.monotonic() < deadline:
        time.sleep(0.1)
    assert journaled() == keyed
