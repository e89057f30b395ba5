"""«Сотрудники» and the PBX's employees, the CRM and our PBX simulator each a real server: every
page of the PBX's 250 users arrives, the form's field suggests them, «Сопоставить с АТС»
proposes and saves matches, a login gone from the PBX is flagged, the legacy `accounts` works,
and a slow or failing PBX never holds up the page."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from core import audit
from core.telephony import connection, pbx_directory
from tests.support import builders
from tests.support.databases import run_core
from tests.support.pages import fragment
from tests.support.servers import LiveBrowser, LiveServer
from web.app import create_app
from web.config import Settings
from web.pbx_simulator import SimulatorConfig, create_simulator

TOKEN = "pbx-secret-token-1234"


def pbx_staff() -> list[dict[str, str]]:
    """Four people the CRM's employees match in different ways, and 246 more: three pages."""
    people = [
        ("admin", "Анна Администратор", "700", "anna@romashka.ru"),  # the CRM admin's e-mail
        ("ivanov", "Иван Иванов", "701", ""),  # «Иванов Иван» in the CRM
        ("sidorova", "Мария Сидорова", "702", ""),  # «Маша» has her extension
        ("petrov", "Пётр Петров", "703", ""),  # already matched; leaves the PBX later
    ]
    people += [(f"user{n}", f"Сотрудник {n}", str(1000 + n), "") for n in range(246)]
    return [
        {
            "login": login,
            "name": name,
            "ext": ext,
            "telnum": "7495000" + ext.zfill(4),
            "email": mail,
        }
        for login, name, ext, mail in people
    ]


class Crm:
    """The CRM and the PBX, an admin signed in, and the project's people."""

    def __init__(self, crm: LiveServer, pbx: LiveServer, config: SimulatorConfig, url: str):
        self.crm, self.pbx, self.config, self.url = crm, pbx, config, url
        self.admin = LiveBrowser(base_url=crm.url, follow_redirects=True, timeout=15)
        self.ids: dict[str, Any] = {}

    def connect(self) -> None:
        run_core(
            self.url,
            connection.save,
            self.ids["project"],
            TOKEN,
            self.pbx.url,
            allow_private=True,
        )

    def behave(self, **behaviour: Any) -> None:
        self.admin.post(self.pbx.url + "/simulator/behaviour", json=behaviour)

    def stored(self) -> pbx_directory.Directory:
        return run_core(self.url, pbx_directory.read, self.ids["project"])


@pytest.fixture
def crm(database_url: str, request: pytest.FixtureRequest) -> Iterator[Crm]:
    settings = Settings(
        database_url=database_url,
        secret_key="pbx-users",
        cheap_passwords=True,
        pbx_timeout=1.0,
        pbx_allow_private=True,
    )
    options = getattr(request, "param", {})
    config = SimulatorConfig(api_key=TOKEN, users=pbx_staff(), **options)
    with LiveServer(create_app(settings)) as app, LiveServer(create_simulator(config)) as pbx:
        servers = Crm(app, pbx, config, database_url)

        async def people(db: Any) -> None:
            admin = await builders.admin(db, email="anna@romashka.ru", name="Анна Админова")
            project = admin["project_id"]
            ids = {"project": project, "admin": admin["id"]}
            for key, name, method, pbx_user in [
                ("ivan", "иванов  Иван", "app", ""),
                ("masha", "Маша", "megafon_api", "702"),
                ("petr", "Пётр Петров", "megafon_api", "petrov"),
                ("oleg", "Олег Новиков", "disabled", ""),
            ]:
                row = await builders.manager(
                    db, project, name=name, email=f"{key}@romashka.ru", call_method=method,
                    pbx_user=pbx_user,
                )  # fmt: skip
                ids[key] = row["id"]
            servers.ids = ids

        run_core(database_url, people)
        servers.admin.login("anna@romashka.ru")
        yield servers
        servers.admin.close()


def row_of(html: Any, name: str) -> Any:
    """The row of the employee called `name` (the PBX users' names are in every row's list)."""
    return next(tr for tr in html.select("tbody tr") if tr.find(["b", "a"]).get_text() == name)


def test_the_pbx_users_are_read_whole_suggested_matched_and_a_gone_login_flagged(crm):
    # Before MegaFon is connected, «Сотрудники» says so and leads to «Телефония».
    before = fragment(crm.admin.get("/employees").text)
    assert "Телефония МегаФон не подключена" in before.select_one(".pbx-status").get_text()
    assert before.select_one(".pbx-status a")["href"] == "/telephony"
    crm.connect()

    # The first visit reads every page of the PBX's users (250, 100 a page).
    listed = fragment(crm.admin.get("/employees").text)
    assert "Сотрудников в АТС: 250" in listed.select_one(".pbx-status").get_text()
    assert len(crm.stored().users) == 250
    assert {"admin", "petrov", "user245"} <= {u.login for u in crm.stored().users}
    assert listed.select(".badge.warning") == []  # every login is on the PBX

    # The form's field suggests PBX users by any part of their name, login or extension.
    found = fragment(crm.admin.htmx("GET", "/employees/pbx-users?pbx_user=сидоР").text)
    options = found.select("[role=option]")
    assert [o["data-pbx-login"] for o in options] == ["sidorova"]
    assert " ".join(options[0].get_text().split()) == (
        "Мария Сидорова sidorova · доб. 702 · +7 495 000-07-02"
    )
    last = fragment(crm.admin.htmx("GET", "/employees/pbx-users?pbx_user=1245").text)
    assert [o["data-pbx-login"] for o in last.select("[role=option]")] == ["user245"]
    none = crm.admin.htmx("GET", "/employees/pbx-users?pbx_user=Зиновий").text
    assert "В списке АТС нет сотрудника «Зиновий»" in none

    # «Сопоставить с АТС» proposes by e-mail, name and extension, and says why.
    match = fragment(crm.admin.get("/employees/pbx").text)
    why = {
        name: row_of(match, name).select("td")[-1].get_text(strip=True)
        for name in ("Анна Админова", "иванов Иван", "Маша", "Пётр Петров", "Олег Новиков")
    }
    assert why == {
        "Анна Админова": "по e-mail",
        "иванов Иван": "по имени",
        "Маша": "по внутреннему номеру",
        "Пётр Петров": "уже сопоставлен",
        "Олег Новиков": "нет совпадений",
    }
    ticked = [i["value"] for i in match.select("input[name=assign][checked]")]
    assert sorted(ticked) == sorted(str(crm.ids[k]) for k in ("admin", "ivan", "masha"))
    chosen = row_of(match, "иванов Иван").select_one("input[list=pbx-logins]")
    assert chosen["value"] == "ivanov"
    assert len(match.select("#pbx-logins option")) == 250  # any other PBX user may be chosen

    # The admin unticks Анна, picks another PBX user for Олег, and saves once.
    form = {
        "assign": [str(crm.ids["ivan"]), str(crm.ids["masha"]), str(crm.ids["oleg"])],
        f"pbx_user_{crm.ids['ivan']}": "ivanov",
        f"pbx_user_{crm.ids['masha']}": "sidorova",
        f"pbx_user_{crm.ids['oleg']}": "user7",
        f"pbx_user_{crm.ids['admin']}": "admin",
    }
    saved = crm.admin.submit("/employees/pbx", form)
    assert saved.url.path == "/employees/pbx"
    assert "Изменено сотрудников: 3" in saved.text
    staff = {
        e["id"]: (e["call_method"], e["pbx_user"])
        for e in run_core(crm.url, _employees, crm.ids["project"])
    }
    assert staff[crm.ids["ivan"]] == ("megafon_api", "ivanov")
    assert staff[crm.ids["masha"]] == ("megafon_api", "sidorova")
    assert staff[crm.ids["oleg"]] == ("megafon_api", "user7")
    assert staff[crm.ids["admin"]] == ("disabled", None)
    journal, _ = run_core(
        crm.url,
        audit.journal,
        crm.ids["project"],
        action=audit.Action.EMPLOYEE_CALL_METHOD_CHANGED,
    )
    assert sorted((j["subject_id"], j["details"]["new_pbx_user"]) for j in journal) == sorted(
        [(crm.ids["ivan"], "ivanov"), (crm.ids["masha"], "sidorova"), (crm.ids["oleg"], "user7")]
    )
    assert {j["actor_id"] for j in journal} == {crm.ids["admin"]}

    # A login that is not on the PBX is refused, and nothing changes.
    refused = crm.admin.submit(
        "/employees/pbx", {"assign": str(crm.ids["admin"]), f"pbx_user_{crm.ids['admin']}": "zz"}
    )
    assert refused.status_code == 422 and "уже нет в списке АТС" in refused.text
    # Ticks that name no employee (`²` is a digit to Python, 5,000 nines too long for `int`,
    # past any id column) are ignored rather than failing the page.
    for odd in ("²", "9" * 5000, "99999999999999999999"):
        ignored = crm.admin.submit("/employees/pbx", {"assign": odd, f"pbx_user_{odd}": "admin"})
        assert ignored.status_code == 200 and "Изменено сотрудников: 0" in ignored.text

    # Пётр leaves the PBX: after «Обновить из АТС» his row says «Нет в АТС», no one else's.
    crm.config.users[:] = [u for u in crm.config.users if u["login"] != "petrov"]
    after = crm.admin.submit("/employees/pbx-refresh", {"back": "employees"})
    assert after.url.path == "/employees"
    html = fragment(after.text)
    assert "Сотрудников в АТС: 249" in html.select_one(".pbx-status").get_text()
    flagged = [
        tr.select_one("td a").get_text()
        for tr in html.select("tbody tr")
        if tr.select(".badge.warning")
    ]
    assert flagged == ["Пётр Петров"]
    assert "Нет в АТС" in row_of(html, "Пётр Петров").get_text()
    form = fragment(crm.admin.get(f"/employees/{crm.ids['petr']}").text)
    assert "«petrov» нет в последнем списке сотрудников АТС" in form.select_one(".pbx-gone").text
    assert fragment(crm.admin.get(f"/employees/{crm.ids['masha']}").text).select(".pbx-gone") == []

    # MegaFon calling without a login (as data from before the field was required): said too.
    run_core(crm.url, _without_login, crm.ids["oleg"])
    html = fragment(crm.admin.get("/employees").text)
    assert row_of(html, "Олег Новиков").select_one(".badge.warning").text == "Нет логина АТС"


async def _without_login(db: Any, employee_id: int) -> None:
    from core.tables import users

    await db.execute(
        users.update()
        .where(users.c.id == employee_id)
        .values(call_method="megafon_api", pbx_user=None)
    )


async def _employees(db: Any, project_id: int) -> list[dict[str, Any]]:
    from core.employees import list_employees

    return [dict(e) for e in await list_employees(db, project_id)]


@pytest.mark.parametrize("crm", [{"rest": False}], indirect=True)
def test_a_legacy_pbx_gives_its_accounts_through_the_connection_check(crm):
    crm.connect()
    checked = crm.admin.htmx("POST", "/telephony/megafon/check")
    assert "Сотрудников в АТС: 250" in checked.text
    assert run_core(crm.url, connection.get, crm.ids["project"])["api"] == "legacy"
    stored = crm.stored()
    assert len(stored.users) == 250 and stored.error == ""
    admin = next(u for u in stored.users if u.login == "admin")
    assert (admin.name, admin.ext, admin.telnum, admin.email) == (
        "Анна Администратор",
        "700",
        "74950000700",
        "anna@romashka.ru",
    )
    field = crm.admin.htmx("GET", "/employees/pbx-user-field?call_method=megafon_api").text
    assert "Сотрудников в АТС: 250" in fragment(field).select_one(".pbx-status").get_text()


def test_a_slow_or_failing_pbx_leaves_the_last_list_and_the_reason_in_plain_words(crm):
    crm.connect()
    assert "Сотрудников в АТС: 250" in crm.admin.get("/employees").text

    # The PBX answers slower than PBX_TIMEOUT: «Обновить из АТС» says so in a second.
    crm.behave(delay=3)
    started = time.monotonic()
    refreshed = crm.admin.submit("/employees/pbx-refresh", {"back": "employees_pbx_match"})
    assert time.monotonic() - started < 2.5
    status = fragment(refreshed.text).select_one(".pbx-status").get_text(" ", strip=True)
    assert "Не удалось обновить список сотрудников АТС" in status
    assert "недоступна: нет ответа за 1 с" in status and "Показан список от" in status
    assert "Traceback" not in refreshed.text
    # The last list is still offered and proposed from.
    found = crm.admin.htmx("GET", "/employees/pbx-users?pbx_user=иванов").text
    assert 'data-pbx-login="ivanov"' in found
    assert "по имени" in refreshed.text

    # From the employee form's field: the PBX's own error, and what was typed stays.
    crm.behave(delay=0, fail_status=500)
    field = crm.admin.htmx(
        "POST", "/employees/pbx-refresh", {"call_method": "megafon_api", "pbx_user": "ива"}
    )
    html = fragment(field.text)
    assert html.select_one("#f-pbx_user")["value"] == "ива"
    assert "АТС ответила ошибкой (HTTP 500" in html.select_one(".pbx-status").get_text()
    assert len(crm.stored().users) == 250
