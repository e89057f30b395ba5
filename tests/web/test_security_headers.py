"""What the browser is told it may do: CSP, framing, sniffing, referrer, HSTS, caching."""

import dataclasses

from tests.support import builders
from tests.support.pages import Browser
from web.app import create_app


def test_pages_allow_no_inline_script_framing_or_sniffing(browser):
    response = browser.get("/login")
    headers = response.headers
    policy = dict(
        part.strip().split(" ", 1) for part in headers["content-security-policy"].split(";")
    )
    assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'"
    assert "unsafe" not in headers["content-security-policy"]
    assert policy["frame-ancestors"] == "'none'" and headers["x-frame-options"] == "DENY"
    assert policy["media-src"] == "'self' https: http:"  # recordings play from the PBX's links
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert "strict-transport-security" not in headers  # PUBLIC_URL is not https here
    assert "no-store" not in headers.get("cache-control", "")
    missing = browser.get("/no-such-page")
    assert missing.status_code == 404 and "content-security-policy" in missing.headers


def test_machines_answers_are_nosniff_without_a_page_policy(browser):
    response = browser.post("/megafon_webhook", data={"cmd": "contact", "crm_token": "nope"})
    assert response.status_code == 401
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" not in response.headers


def test_pages_that_show_a_key_are_kept_in_no_cache(browser):
    browser.run(builders.admin, email="anna@romashka.ru")
    browser.login("anna@romashka.ru")
    for path in ["/settings", "/telephony", "/telephony/megafon"]:
        response = browser.get(path)
        assert response.status_code == 200, path
        assert response.headers["cache-control"] == "no-store", path
    assert "no-store" not in browser.get("/clients").headers.get("cache-control", "")


def test_hsts_only_when_the_public_address_is_https(settings):
    https = dataclasses.replace(
        settings, public_url="https://crm.example.ru", https_only_cookies=True
    )
    with Browser(create_app(https)) as client:
        for response in [client.get("/login"), client.post("/megafon_webhook", data={})]:
            assert response.headers["strict-transport-security"] == "max-age=31536000"
