"""The CRM → PBX API (PROTOCOL.md §2): REST v1 first, the legacy API when REST is not there.

`PbxClient` takes the `httpx.AsyncClient` the app opened (tests and the demo point it at our
own simulator over real HTTP). Every way the PBX or the network can fail is one of these,
each with a message an admin or a manager can act on:

PbxError (CrmError)
├── PbxNotConnected    the project has no PBX connection yet
├── PbxBadToken        401: the API token is wrong or was replaced in the PBX cabinet
├── PbxInvalidRequest  400, or an employee the PBX does not know (explained in the interface's
│                      language when the PBX's text is one we know, quoted otherwise)
├── PbxUnreachable     no connection, unknown host, a timeout, or a redirect (a wrong domain)
├── PbxAddressNotAllowed  the address is not a public one (core/telephony/public_address.py)
└── PbxFailed          5xx, or a reply the protocol does not promise

A message says what went wrong (a status, a short reason, the PBX's own error message when it
gives one in JSON), never the raw bytes of whatever answered.
"""

from __future__ import annotations

import ipaddress
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

import httpx

from core import phones
from core.errors import CrmError, ErrorKind, ValidationError
from core.i18n import gettext as _
from core.telephony import pbx_history
from core.telephony.pbx_history import History
from core.telephony.public_address import NotPublicAddress, is_public, literal


class Api(StrEnum):
    """Which of the PBX's two APIs answers (`pbx_connections.api`; "" before the first answer)."""

    REST = "rest"  # REST v1, `/crmapi/v1`
    LEGACY = "legacy"  # the older form API, `/sys/crm_api.wcgp`


_ID_IN_TEXT = re.compile(r"""["']?(?:callid|uuid|CallID|call_id)["']?\s*[:=]\s*["']?([\w.:-]+)""")
_PLAIN_ID = re.compile(r"[\w.:-]{1,100}")


class PbxError(CrmError):
    """The PBX did not do what was asked; `message` says why in plain words."""

    kind = ErrorKind.PBX_FAILED


class PbxNotConnected(PbxError):
    kind = ErrorKind.CONFLICT  # nothing failed: there is no PBX to ask yet

    def __init__(self) -> None:
        super().__init__(
            _(
                "Телефония МегаФон не подключена к проекту. "
                "Администратор подключает её в разделе «Телефония»."
            )
        )


class PbxBadToken(PbxError):
    def __init__(self) -> None:
        super().__init__(
            _(
                "АТС отклонила API token. Скопируйте «Ключ для авторизации в АТС» из настроек "
                "интеграции в личном кабинете МегаФон и сохраните его в разделе «Телефония»."
            )
        )


class PbxInvalidRequest(PbxError):
    """`detail` is what the PBX said (its own words, or the HTTP status); `user` and `phone`
    what was asked, when a call was."""

    def __init__(self, detail: str, user: str = "", phone: str = "") -> None:
        self.detail = detail
        super().__init__(_explain(detail, user, phone))


# The PBX's error texts we know (PROTOCOL.md §2.1, and what MegaFon's REST API answers), by
# what they mean; the PBX writes them in English, in any case, sometimes with a final dot.
_UNKNOWN_USER = {"user not found", "invalid user", "unknown user", "employee not found"}
_UNKNOWN_PHONE = {"client not found", "invalid phone", "phone not found", "invalid number"}
_BAD_PARAMETERS = {"invalid parameters", "invalid params", "bad request"}
_UNKNOWN_COMMAND = {"invalid parameters: [cmd]", "unknown command", "invalid cmd"}


def _explain(detail: str, user: str, phone: str) -> str:
    """The PBX's refusal in the interface's language: what it means and what to check."""
    said = " ".join(detail.split()).rstrip(".").lower()
    if said in _UNKNOWN_USER:
        if user:
            return _(
                "Сотрудник «{user}» не найден в АТС: проверьте поле «Логин, внутренний номер "
                "или прямой номер в АТС» в карточке сотрудника (раздел «Сотрудники»)."
            ).format(user=user)
        return _(
            "Сотрудник не найден в АТС: проверьте поле «Логин, внутренний номер или прямой "
            "номер в АТС» в карточке сотрудника (раздел «Сотрудники»)."
        )
    if said in _UNKNOWN_PHONE and phone:
        return _(
            "АТС не может позвонить на номер {phone}: проверьте номер в карточке клиента."
        ).format(phone=phones.display(phone))
    if said in _BAD_PARAMETERS and user and phone:
        return _(
            "АТС не приняла звонок: она не знает сотрудника «{user}» или номер {phone}. Проверьте "
            "логин, внутренний или прямой номер сотрудника и номер клиента."
        ).format(user=user, phone=phones.display(phone))
    if said in _UNKNOWN_COMMAND:
        return _(
            "АТС не поддерживает эту команду: возможно, в кабинете МегаФон выключена интеграция "
            "с CRM или указан адрес другой АТС. Проверьте Megafon domain."
        )
    return _(
        "АТС не приняла запрос и ответила: «{detail}». Проверьте логин, внутренний или прямой "
        "номер сотрудника и номер клиента."
    ).format(detail=detail)


class PbxUnreachable(PbxError):
    def __init__(self, url: str, reason: str) -> None:
        super().__init__(
            _("АТС по адресу {url} недоступна: {reason}. Проверьте Megafon domain.").format(
                url=url, reason=reason
            )
        )


class PbxAddressNotAllowed(PbxError):
    """The PBX's address is, or resolves to, a loopback, private, link-local or other
    non-public address: the CRM does not send requests there (`PBX_ALLOW_PRIVATE=1` allows)."""

    def __init__(self, url: str) -> None:
        super().__init__(
            _(
                "Адрес АТС {url} ведёт во внутреннюю сеть (локальный или частный IP-адрес). "
                "CRM обращается только к АТС с публичным адресом. Проверьте Megafon domain."
            ).format(url=url)
        )


class PbxFailed(PbxError):
    def __init__(self, status: int, reason: str = "") -> None:
        known = status in HTTPStatus._value2member_map_
        detail = f"HTTP {status}" + (f" {HTTPStatus(status).phrase}" if known else "")
        detail += f": {reason}" if reason else ""
        super().__init__(
            _("АТС ответила ошибкой ({detail}). Попробуйте ещё раз через минуту.").format(
                detail=detail
            )
        )


def base_url(raw: str, *, allow_private: bool = False) -> str:
    """The PBX's address from what an admin pastes: `vats123456.megapbx.ru`, an `https://…`
    address, or the `…/crmapi/v1` address the cabinet shows. Plain `http://` only for
    loopback addresses (simulators). An IP address that is not public is refused unless
    `allow_private` (the connection refuses it anyway: this says so early, next to the field)."""
    text = raw.strip().rstrip("/")
    if not text:
        raise ValidationError.single("domain", _("Укажите адрес вашей АТС."))
    if "://" not in text:
        text = "https://" + text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as e:
        raise ValidationError.single("domain", _("Не похоже на адрес АТС.")) from e
    host = (parts.hostname or "").lower()
    path = parts.path.rstrip("/")
    for suffix in ("/crmapi/v1", "/sys/crm_api.wcgp"):
        if path.lower().endswith(suffix):
            path = path[: -len(suffix)]
    address = literal(host)
    if address is not None and not allow_private and not is_public(address):
        raise ValidationError.single(
            "domain",
            _(
                "{host} — не публичный адрес (локальная или частная сеть). "
                "Укажите адрес АТС в интернете, например vats123456.megapbx.ru"
            ).format(host=host),
        )
    valid_host = re.fullmatch(r"[a-z0-9.-]+|\[[0-9a-f:]+\]|[0-9a-f:]+", host) and "." in host
    if (
        parts.scheme not in ("http", "https")
        or not host
        or parts.username
        or path
        or parts.query
        or not (valid_host or _loopback(host))
    ):
        raise ValidationError.single(
            "domain",
            _("Не похоже на адрес АТС. Пример: vats123456.megapbx.ru"),
        )
    if parts.scheme == "http" and not _loopback(host):
        raise ValidationError.single(
            "domain",
            _("АТС доступна только по https://. Адрес http:// допустим лишь для 127.0.0.1."),
        )
    netloc = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{netloc}" + (f":{port}" if port else "")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


_APIS = {a.value: a for a in Api}


@dataclass(frozen=True)
class PbxUser:
    """An employee as the PBX lists them: `login` is bare (what `makecall` and `contact`'s
    `responsible` want back, PROTOCOL.md §6.1); `telnum` is the direct number."""

    login: str
    name: str
    ext: str
    telnum: str = ""
    email: str = ""


USERS_PAGE = 100  # REST `GET /users` is read `USERS_PAGE` employees at a time
USERS_MAX_PAGES = 200  # a PBX that keeps saying «more» past this is answering nonsense


HISTORY_PAGE = 500  # calls asked per page of the history
HISTORY_MAX_PAGES = 200  # a window with more pages than this is answered as a failure


class PbxClient:
    """One project's PBX: `make_call`, `history` and `users`, over REST v1 or the legacy API.

    `api` is the API that answered last (None before the first answer): the caller keeps it,
    so the next request goes straight to the API that works."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        token: str,
        api: str = "",
    ) -> None:
        self.http, self.base_url, self.token = http, base_url, token
        self.api: Api | None = _APIS.get(api)  # as stored: "" when none answered yet

    async def make_call(self, user: str, phone: str) -> str:
        """Ring `user` (login, extension or number), then `phone` (digits); the call id the PBX
        gave, or "" when its reply carried none (PROTOCOL.md §2.1 lists every shape)."""
        if self.api != Api.LEGACY:
            response = await self._rest(
                "POST", "/makecall", json={"user": user, "phone": phone}, asked=(user, phone)
            )
            if response is not None:
                return _call_id(response)
        response = await self._legacy(
            {"cmd": "makeCall", "user": user, "phone": phone}, asked=(user, phone)
        )
        return _call_id(response)

    async def history(
        self,
        start: datetime,
        end: datetime,
        *,
        limit: int = HISTORY_PAGE,
        max_pages: int = HISTORY_MAX_PAGES,
    ) -> History:
        """The calls that started from `start` to `end` (REST `GET /history/json`, or legacy
        `cmd=history` CSV), each once. Neither API has an offset, nor says in which order it
        lists: when a page comes back full, the window is narrowed past what it held (from the
        last call's start when the page was oldest first, up to the first call's start when it
        was newest first), and the calls already read are dropped. The calls come oldest
        first."""
        found = History()
        seen: set[str] = set()
        since, until = start, end
        for _page in range(max_pages):
            page = await self._history_page(since, until, limit)
            found.unreadable += page.unreadable
            fresh = [c for c in page.calls if c.uid not in seen]
            seen.update(c.uid for c in fresh)
            found.calls += fresh
            if len(page.calls) + page.unreadable < limit:
                # Oldest first, as they happened, whatever the PBX's order: a missed call and
                # the callback after it are applied in that order («Пропущенные», the dialog).
                found.calls.sort(key=lambda c: c.start)
                return found
            starts = [c.start for c in page.calls]
            if all(a <= b for a, b in itertools.pairwise(starts)):
                since = max(starts, default=since)  # oldest first: the rest is later
            else:
                # newest first: the rest is earlier (its second again, should `end` not hold it)
                until = min(starts) + timedelta(seconds=1)
            if not fresh:
                # A full page of the same second, nothing new: asking again cannot move on.
                raise PbxFailed(
                    200,
                    _("в истории АТС больше {limit} звонков за одну секунду").format(limit=limit),
                )
        raise PbxFailed(
            200,
            _("история АТС не кончается (больше {n} страниц по {limit} звонков)").format(
                n=max_pages, limit=limit
            ),
        )

    async def _history_page(self, start: datetime, end: datetime, limit: int) -> History:
        window = {
            "start": start.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ"),
            # Whole seconds: the end is rounded up, so a call of its last second is not lost.
            "end": (end + timedelta(microseconds=999_999))
            .astimezone(UTC)
            .strftime("%Y%m%dT%H%M%SZ"),
            "type": "all",
            "limit": str(limit),
        }
        if self.api != Api.LEGACY:
            response = await self._rest("GET", "/history/json", params=window)
            if response is not None:
                return _history(response, pbx_history.read_rest, _json(response))
        response = await self._legacy({"cmd": "history", **window})
        return _history(response, pbx_history.read_csv, response.text)

    async def users(self) -> list[PbxUser]:
        """All the PBX's employees (every page of REST `GET /users`, or legacy `accounts`):
        also the connection check."""
        if self.api != Api.LEGACY:
            found: list[PbxUser] = []
            start = 0  # employees the PBX listed so far (one without a login is not kept)
            for _page in range(USERS_MAX_PAGES):
                params = {"start": str(start), "limit": str(USERS_PAGE)}
                response = await self._rest("GET", "/users", params=params)
                if response is None:
                    break  # no REST API here: the legacy one below
                items, listed, more = _users_page(response, start)
                found += items
                start += listed
                if not listed or not more:
                    return found
            else:
                raise PbxFailed(
                    200,
                    _("АТС отдаёт список сотрудников без конца (больше {n} страниц)").format(
                        n=USERS_MAX_PAGES
                    ),
                )
        response = await self._legacy({"cmd": "accounts"})
        items = _json(response)
        if not isinstance(items, list):
            raise PbxFailed(response.status_code, _("ответ не похож на список сотрудников"))
        return [
            user
            for u in items
            if isinstance(u, dict) and (user := _user(u, login="name", name="realName")) is not None
        ]

    async def _rest(
        self, method: str, path: str, asked: tuple[str, str] = ("", ""), **kwargs: Any
    ) -> httpx.Response | None:
        """A REST v1 request; None when this PBX has no REST API (a 404 that is not JSON).
        `asked` is the employee and number a call was for, to name them in an error."""
        response = await self._send(
            method,
            f"{self.base_url}/crmapi/v1{path}",
            headers={"X-API-KEY": self.token},
            **kwargs,
        )
        if response.status_code == 404 and not isinstance(_json(response), dict):
            if self.api == Api.REST:
                raise PbxUnreachable(self.base_url, _("API АТС не найден (404)"))
            return None
        _raise_for_status(response, self.base_url, asked)
        self.api = Api.REST
        return response

    async def _legacy(
        self, fields: dict[str, str], asked: tuple[str, str] = ("", "")
    ) -> httpx.Response:
        response = await self._send(
            "POST", f"{self.base_url}/sys/crm_api.wcgp", data={**fields, "token": self.token}
        )
        if response.status_code == 404:
            raise PbxUnreachable(self.base_url, _("это не адрес АТС МегаФон (404)"))
        _raise_for_status(response, self.base_url, asked)
        self.api = Api.LEGACY
        return response

    async def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self.http.request(method, url, **kwargs)
        except httpx.TimeoutException as e:
            seconds = self.http.timeout.read or self.http.timeout.connect
            raise PbxUnreachable(
                self.base_url, _("нет ответа за {seconds:g} с").format(seconds=seconds)
            ) from e
        except httpx.ConnectError as e:
            reason = (
                _("такого адреса нет")
                if "name" in str(e).lower() or "resolution" in str(e).lower()
                else _("не удалось соединиться")
            )
            raise PbxUnreachable(self.base_url, reason) from e
        except httpx.HTTPError as e:
            raise PbxUnreachable(self.base_url, _("ошибка сети ({error})").format(error=e)) from e
        except NotPublicAddress as e:
            raise PbxAddressNotAllowed(self.base_url) from e


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _error_detail(response: httpx.Response) -> str:
    """The PBX's own error message (`{"message"}` or `{"error"}` in JSON), shortened; "" when
    the reply carries none: what answered may not be a PBX, and its bytes are not repeated."""
    body = _json(response)
    if isinstance(body, dict):
        text = " ".join(str(body.get("message") or body.get("error") or "").split())
        return text[:120] + ("…" if len(text) > 120 else "")
    return ""


def _raise_for_status(
    response: httpx.Response, url: str, asked: tuple[str, str] = ("", "")
) -> None:
    status = response.status_code
    if 200 <= status < 300:
        return
    if status in (401, 403):
        raise PbxBadToken()
    if 300 <= status < 400:
        raise PbxUnreachable(url, _("АТС перенаправляет запросы, адрес указан неверно"))
    if status in (400, 404, 422):
        raise PbxInvalidRequest(_error_detail(response) or f"HTTP {status}", *asked)
    raise PbxFailed(status, _error_detail(response))


def _call_id(response: httpx.Response) -> str:
    """`{"callid"}`, `{"uuid"}`, `{"CallID"}`, a bare string, `OK` or nothing: all success."""
    body = _json(response)
    if isinstance(body, dict):
        for key in ("callid", "uuid", "CallID", "call_id", "id"):
            value = body.get(key)
            if isinstance(value, (str, int)) and str(value):
                return str(value)
        return ""
    if isinstance(body, (str, int)) and not isinstance(body, bool):
        return str(body)
    text = response.text.strip()
    if not text or text.upper() == "OK":
        return ""
    found = _ID_IN_TEXT.search(text)  # some PBXes answer JSON with unquoted keys
    if found:
        return found.group(1)
    if _PLAIN_ID.fullmatch(text):
        return text
    raise PbxFailed(response.status_code, _("ответ без номера звонка и не в формате API АТС"))


def _users_page(response: httpx.Response, before: int) -> tuple[list[PbxUser], int, bool]:
    """One page of REST `GET /users` (`{"items": [...], "info": {"total", "next"}}`, or a bare
    list): its employees, how many it listed, and whether more pages follow; `before`
    employees were listed already."""
    body = _json(response)
    if isinstance(body, list):
        body = {"items": body, "info": {"next": None}}
    items = body.get("items") if isinstance(body, dict) else None
    info = body.get("info") if isinstance(body, dict) else None
    if not isinstance(items, list) or not isinstance(info, dict | None):
        raise PbxFailed(response.status_code, _("ответ не похож на список сотрудников"))
    users = [
        user
        for u in items
        if isinstance(u, dict) and (user := _user(u, login="login", name="name")) is not None
    ]
    info = info or {}
    read = before + len(items)
    total = info.get("total")
    if isinstance(total, int) and not isinstance(total, bool):
        more = read < total
    elif "next" in info:
        more = info["next"] not in (None, "", False)
    else:
        more = len(items) >= USERS_PAGE
    return users, len(items), more


def _user(item: dict[str, Any], *, login: str, name: str) -> PbxUser | None:
    """One employee of `users` (REST) or `accounts` (legacy, the login in `name`); None
    without a login, which nothing can be matched by."""

    def field(key: str) -> str:
        value = item.get(key)
        return "" if value is None or isinstance(value, dict | list) else str(value).strip()

    bare = field(login).split("@", 1)[0]
    if not bare:
        return None
    return PbxUser(
        login=bare,
        name=" ".join(field(name).split()),
        ext=field("ext"),
        telnum=field("telnum"),
        email=field("email").lower(),
    )


def _history(response: httpx.Response, read: Callable[[Any], History], body: Any) -> History:
    try:
        return read(body)
    except pbx_history.NotAHistory as e:
        raise PbxFailed(response.status_code, _("ответ не похож на историю звонков")) from e
