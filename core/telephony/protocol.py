"""Reading the PBX's webhooks (PROTOCOL.md §1): one form, four commands, many quirks.

`parse` turns the raw fields into a `Webhook` or raises `InvalidWebhook` naming every problem.
Unknown extra fields are kept as they are (`z-flag`, `telnum_name`, `missedStatus`, …).

A word the CRM does not know is no problem: the set of statuses and event types has grown over
the years (PROTOCOL.md §6.1), so an unknown history `status` is kept in `status_raw` and applied
as `fallback_status`, an unknown event `type` in `event_raw` (the event then only names its
call), an unknown direction is untold. Only a missing `callid`/`phone`, an unknown `cmd` or a
value that cannot be read (a date, a number, a NUL) is refused.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from core.errors import ErrorKind, ValidationError


class Command(StrEnum):
    """A webhook's `cmd`."""

    CONTACT = "contact"  # who is calling? (the PBX waits for the answer, phone ringing)
    EVENT = "event"
    HISTORY = "history"
    RATING = "rating"


class EventType(StrEnum):
    """`cmd=event`'s `type`: what is happening to a call right now."""

    INCOMING = "INCOMING"
    ACCEPTED = "ACCEPTED"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"
    OUTGOING = "OUTGOING"
    TRANSFERRED = "TRANSFERRED"


class CallStatus(StrEnum):
    """`cmd=history`'s `status`: how a call ended, spelled as on the Salebot page (bots match
    `megafon_call_status Missed` literally)."""

    SUCCESS = "Success"
    MISSED = "Missed"
    CANCEL = "Cancel"
    BUSY = "Busy"
    NOT_AVAILABLE = "NotAvailable"
    NOT_ALLOWED = "NotAllowed"
    NOT_FOUND = "NotFound"


class Direction(StrEnum):
    """Which way a call goes (`event.direction`, `history.type`)."""

    IN = "in"
    OUT = "out"


# Lookups by the text the PBX sent: a dict is as cheap as the tuple test it replaced.
_COMMANDS = {c.value: c for c in Command}
_EVENT_TYPES = {t.value: t for t in EventType}
_DIRECTIONS = {d.value: d for d in Direction}
# The PBX sends history.status in any case; the lowercase REST spellings (`no_answer`,
# `not_available`) are folded in too.
STATUSES: dict[str, CallStatus] = {s.value.lower(): s for s in CallStatus}
STATUSES.update(
    {
        "no_answer": CallStatus.MISSED,
        "cancelled": CallStatus.CANCEL,
        "not_available": CallStatus.NOT_AVAILABLE,
        "not_allowed": CallStatus.NOT_ALLOWED,
        "not_found": CallStatus.NOT_FOUND,
    }
)
MAX_FIELD = 2000
MAX_CALLID = 200

REQUIRED = {
    Command.CONTACT: ("phone",),
    Command.EVENT: ("type", "callid", "phone"),
    Command.HISTORY: ("status", "callid", "phone"),  # a direction untold is the call's
    Command.RATING: ("callid", "rating"),
}


class InvalidWebhook(ValidationError):
    """The webhook lacks required fields or carries values that cannot be read."""

    kind = ErrorKind.MALFORMED

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(errors)
        self.message = "Invalid parameters"  # the PBX's own words (PROTOCOL.md §1.6)


@dataclass(frozen=True)
class Webhook:
    """One webhook, its values normalised; `fields` keeps everything that was sent."""

    cmd: Command
    fields: Mapping[str, str]
    callid: str = ""
    phone: str = ""
    event_type: EventType | None = None  # event only
    direction: Direction | None = None  # event (when told or implied) and history
    status: CallStatus | None = None  # history only; None: a word the CRM does not know
    status_raw: str = ""  # history: the `status` as sent when the CRM does not know it
    event_raw: str = ""  # event: the `type` as sent when the CRM does not know it
    user: str = ""  # the PBX login, `@domain` stripped; "" for `pbx`, a group, the IVR
    ext: str = ""
    telnum: str = ""
    diversion: str = ""
    group_name: str = ""
    second_callid: str = ""
    start: datetime | None = None
    duration: int | None = None
    wait: int | None = None
    link: str = ""
    rating: int | None = None
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def dedupe_key(self) -> str | None:
        """What makes a repeated delivery the same; a `contact` question is never a duplicate."""
        if self.cmd == Command.EVENT and self.event_type in (
            EventType.INCOMING,
            EventType.CANCELLED,
        ):
            # A group call rings (and cancels) each employee with the same callid.
            return f"event:{self.callid}:{self.event_type}:{pbx_login(self.user) or self.ext}"
        if self.cmd == Command.EVENT:
            return f"event:{self.callid}:{self.event_type or self.event_raw[:40]}"
        if self.cmd == Command.HISTORY:
            # By content: the same history again is a repeat, another one for the call (the
            # recording link coming later, the PBX's history API read back) is not; what a
            # second history may still change is `notifications.apply`'s to decide.
            sent = json.dumps(sorted((k, v.strip()) for k, v in self.fields.items()))
            return f"history:{self.callid}:{hashlib.sha256(sent.encode()).hexdigest()[:16]}"
        if self.cmd == Command.RATING:
            return f"rating:{self.callid}:{self.rating}"
        return None


# An event that does not say its direction: only these two imply one.
_IMPLIED_DIRECTION: dict[EventType | None, Direction] = {
    EventType.INCOMING: Direction.IN,
    EventType.OUTGOING: Direction.OUT,
}


def outcome_key(callid: str) -> str:
    """The `webhook_effects` key of a call's outcome: only the first history of a call
    decides it (and writes `megafon_call_status …`)."""
    return f"history:{callid}"


def pbx_login(user: str) -> str:
    """`ivanov@vats123456.megapbx.ru` and `ivanov` are the same PBX user."""
    return user.strip().split("@", 1)[0].lower()


def bare_login(setting: str) -> str:
    """What the PBX is told when the CRM talks back (`contact`'s `responsible`, makeCall's
    `user`): the login as its own lists show it, without the `@domain` a webhook may carry
    (PROTOCOL.md §6.1); an extension or a number as it is."""
    return setting.strip().split("@", 1)[0].strip()


# `user` values that name no employee: the PBX itself, its voice menu and fax, seen on
# missed and off-hours calls (PROTOCOL.md §1.8, §6.1); groups are `g_<id>`.
NOT_PEOPLE = frozenset({"pbx", "ivr", "fax", "voicemail"})


def person(user: str) -> str:
    """The PBX login of an employee `user` names, or "" when it names none (`pbx`, a group
    `g_…@domain`, the IVR, nothing)."""
    login = pbx_login(user)
    return "" if login in NOT_PEOPLE or login.startswith("g_") else login


def fallback_status(duration: int | None, direction: Direction) -> CallStatus:
    """The outcome a `status` the CRM does not know is applied as (bots match the known
    spellings literally, so the message uses one of them). Whatever the new word means, a
    duration says someone talked: `Success`. Without one an inbound call was not answered:
    `Missed`, so the client lands in «Пропущенные» and is called back rather than forgotten;
    an outbound call did not reach the client: `Cancel`, MegaFon's word for an unanswered
    outbound call (PROTOCOL.md §6.1)."""
    if duration:
        return CallStatus.SUCCESS
    return CallStatus.MISSED if direction == Direction.IN else CallStatus.CANCEL


def parse_start(value: str) -> datetime:
    """`20240315T091512Z`, UTC, 24-hour (one library shipped a 12-hour parse bug)."""
    return plausible_start(datetime.strptime(value.strip(), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC))


def plausible_start(moment: datetime) -> datetime:
    """`moment`, or ValueError when no call began then: a call of year 1 or 9999 would break
    every page that shows it (Moscow's time of 9999-12-31 23:59 UTC is past `datetime`)."""
    if not 2000 <= moment.year < 2100:  # before any time zone is applied: that could overflow
        raise ValueError(f"no call began at {moment.isoformat()}")
    return moment


def _seconds(value: str, name: str, errors: dict[str, str]) -> int | None:
    if not value.strip():
        return None
    try:
        number = int(value.strip())
    except ValueError:
        number = -1
    if not 0 <= number <= 10**7:
        errors[name] = f"{name} must be a whole number of seconds"
        return None
    return number


def parse(raw: Mapping[str, str]) -> Webhook:
    """Validate one webhook's fields (already without `crm_token`)."""
    fields = {str(k): str(v) for k, v in raw.items()}
    cmd = _COMMANDS.get(fields.get("cmd", "").strip().lower())
    if cmd is None:
        raise InvalidWebhook(
            {"cmd": f"unknown command {fields.get('cmd', '')!r}"[:200].replace("\x00", "")}
        )
    errors: dict[str, str] = {}
    for name in REQUIRED[cmd]:
        if not fields.get(name, "").strip():
            errors[name] = f"{name} is required for cmd={cmd}"
    for name, value in fields.items():
        label = name[:100].replace("\x00", "")
        if len(value) > MAX_FIELD or len(name) > 100:
            errors[label] = f"{label} is longer than {MAX_FIELD} characters"
        if "\x00" in name or "\x00" in value:
            errors[label] = f"{label} contains a NUL character"
    clean = {k: v.strip() for k, v in fields.items()}
    callid = clean.get("callid", "")
    if len(callid) > MAX_CALLID:
        errors["callid"] = f"callid is longer than {MAX_CALLID} characters"
    event_type = direction = status = None
    event_raw = status_raw = ""
    if cmd == Command.EVENT and "type" not in errors:
        event_type = _EVENT_TYPES.get(clean["type"].upper())
        event_raw = "" if event_type else clean["type"]
        direction = _DIRECTIONS.get(clean.get("direction", "").lower())  # else untold
        direction = direction or _IMPLIED_DIRECTION.get(event_type)
    if cmd == Command.HISTORY:
        # Unknown: `notifications.apply` takes the call's known direction, else `in`.
        direction = _DIRECTIONS.get(clean.get("type", "").lower())
        status = STATUSES.get(clean.get("status", "").lower())
        status_raw = "" if status else clean.get("status", "")
    start = None
    if clean.get("start"):
        try:
            start = parse_start(clean["start"])
        except ValueError:
            errors["start"] = "start must look like 20240315T091512Z"
    duration = _seconds(clean.get("duration", ""), "duration", errors)
    wait = _seconds(clean.get("wait", ""), "wait", errors)
    rating = None
    if clean.get("rating"):
        try:
            rating = int(clean["rating"])
        except ValueError:
            rating = -1
        if not 0 <= rating <= 100:  # the scale is undocumented; samples use 4
            errors["rating"] = "rating must be a whole number from 0 to 100"
            rating = None
    if errors:
        raise InvalidWebhook(errors)
    known = {
        "cmd",
        "callid",
        "phone",
        "type",
        "direction",
        "status",
        "user",
        "ext",
        "telnum",
        "diversion",
        "groupRealName",
        "second_callid",
        "start",
        "duration",
        "wait",
        "link",
        "rating",
    }
    return Webhook(
        cmd=cmd,
        fields=fields,
        callid=callid,
        phone=clean.get("phone", ""),
        event_type=event_type,
        direction=direction,
        status=status,
        status_raw=status_raw,
        event_raw=event_raw,
        user=person(clean.get("user", "")),
        ext=clean.get("ext", ""),
        telnum=clean.get("telnum", ""),
        diversion=clean.get("diversion", ""),
        group_name=clean.get("groupRealName", ""),
        second_callid=clean.get("second_callid", "")[:MAX_CALLID],
        start=start,
        duration=duration,
        wait=wait,
        # Only web addresses become players and links; anything else stays in the raw payload.
        link=clean.get("link", "")
        if clean.get("link", "").startswith(("https://", "http://"))
        else "",
        rating=rating,
        extra={k: v for k, v in fields.items() if k not in known},
    )
