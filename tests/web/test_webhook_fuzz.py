"""Whatever the PBX (or anyone holding the key) sends: never a 500, never a half-applied effect."""

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import projects
from tests.support import builders
from tests.support import megafon as samples

FIELDS = [
    "cmd",
    "type",
    "callid",
    "phone",
    "status",
    "user",
    "ext",
    "direction",
    "start",
    "duration",
    "wait",
    "link",
    "rating",
    "second_callid",
    "diversion",
    "groupRealName",
]
VALUES = st.one_of(
    st.text(max_size=30),
    st.text(min_size=30, max_size=400),
    st.sampled_from(
        [
            "contact",
            "event",
            "history",
            "rating",
            "INCOMING",
            "ACCEPTED",
            "COMPLETED",
            "TRANSFERRED",
            "in",
            "out",
            "Success",
            "missed",
            "79161234567",
            "8 916 123 45 67",
            "701",
            "20240315T091512Z",
            "-1",
            "99999999999",
            "javascript:x",
            "0",
        ]
    ),
)
FORMS = st.dictionaries(
    st.one_of(st.sampled_from(FIELDS), st.text(max_size=10)), VALUES, max_size=10
)
COUNTED = ("clients", "calls", "messages", "client_variables", "webhook_effects")


async def counts(db):
    return {t: await db.fetch_val(sa.text(f"SELECT COUNT(*) FROM {t}")) for t in COUNTED}


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(form=FORMS, base=st.sampled_from([None, *samples.ALL.values()]))
def test_arbitrary_form_bodies_never_500_and_a_rejection_changes_nothing(browser, form, base):
    if not hasattr(browser, "key"):
        admin = browser.run(builders.admin)
        browser.key = browser.run(projects.generate_api_key, admin["project_id"])
    fields = {**(base or {}), **form, "crm_token": browser.key}
    before = browser.run(counts)
    response = browser.post("/megafon_webhook", data=fields)
    assert response.status_code in (200, 400), response.text
    if response.status_code == 400:
        assert response.json()["error"] == "Invalid parameters"
        assert browser.run(counts) == before


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.binary(max_size=300),
    content_type=st.sampled_from(
        [
            "application/x-www-form-urlencoded",
            "application/json",
            "text/plain",
            "multipart/form-data",
        ]
    ),
)
def test_arbitrary_bytes_never_500(browser, body, content_type):
    response = browser.post(
        "/megafon_webhook", content=body, headers={"content-type": content_type}
    )
    assert response.status_code in (400, 401), response.text
