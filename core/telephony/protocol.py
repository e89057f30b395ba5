"""Reading the PBX's webhooks (PROTOCOL.md §1): one form, four commands, many quirks.

`parse` turns the raw fields into a `Webhook` or raises `InvalidWebhook` naming every problem.
Unknown extra fields are kept as they are (`z-flag`, `telnum_name`, `missedStatus`, …).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from core.errors import ValidationError

CONTACT, EVENT, HISTORY, RATING = "contact", "event", "history", "rating"
COMMANDS = (CONTACT, EVENT, HISTORY, RATING)

INCOMING, ACCEPTED, COMPLETED = "INCOMING", "ACCEPTED", "COMPLETED"
CANCELLED, OUTGOING, TRANSFERRED = "CANCELLED", "OUTGOING", "TRANSFERRED"
EVENT_TYPES = (INCOMING, ACCEPTED, COMPLETED, CANCELLED, OUTGOING, TRANSFERRED)

# history.status, spelled as on the Salebot page whatever case the PBX used; the lowercase
# REST spellings (`no_answer`, `not_available`) are folded in too.
STATUSES = {
    s.lower(): s
    for s in ("Success", "Missed", "Cancel", "Busy", "NotAvailable", "NotAllowed", "NotFound")
}
STATUSES.update(
    {
        "no_answer": "Missed",
        "cancelled": "Cancel",
        "not_available": "NotAvailable",
        "not_allowed": "NotAllowed",
        "not_found": "NotFound",
    }
)
DIRECTIONS = ("in", "out")
MAX_FIELD = 2000
MAX_CALLID = 200

REQUIRED = {
    CONTACT: ("phone",),
    EVENT: ("type", "callid", "phone"),
    HISTORY: ("type", "status", "callid", "phone"),
    RATING: ("callid", "rating"),
}


class InvalidWebhook(ValidationError):
    """The webhook lacks required fields or carries values that cannot be read."""


@dataclass(frozen=True)
class Webhook:
    """One webhook, its values normalised; `fields` keeps everything that was sent."""

    cmd: str
    fields: Mapping[str, str]
    callid: str = ""
    phone: str = ""
    event_type: str = ""  # event: INCOMING…TRANSFERRED
    direction: str = ""  # in / out (event.direction, history.type)
    status: str = ""  # history: Success, Missed, …
    user: str = ""  # the PBX login, `@domain` stripped
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
        if self.cmd == EVENT and self.event_type in (INCOMING, CANCELLED):
            # A group call rings (and cancels) each employee with the same callid.
            return f"event:{self.callid}:{self.event_type}:{pbx_login(self.user) or self.ext}"
        if self.cmd == EVENT:
            return f"event:{self.callid}:{self.event_type}"
        if self.cmd == HISTORY:
            return f"history:{self.callid}"
        if self.cmd == RATING:
            return f"rating:{self.callid}:{self.rating}"
        return None


def pbx_login(user: str) -> str:
    """`ivanov@vats123456.megapbx.ru` and `ivanov` are the same PBX user."""
    return user.strip().split("@", 1)[0].lower()


def parse_start(value: str) -> datetime:
    """`20240315T091512Z`, UTC, 24-hour (one library shipped a 12-hour parse bug)."""
    return datetime.strptime(value.strip(), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


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
    cmd = fields.get("cmd", "").strip().lower()
    if cmd not in COMMANDS:
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
    value = {k: v.strip() for k, v in fields.items()}
    callid = value.get("callid", "")
    if len(callid) > MAX_CALLID:
        errors["callid"] = f"callid is longer than {MAX_CALLID} characters"
    event_type = direction = status = ""
    if cmd == EVENT and "type" not in errors:
        event_type = value["type"].upper()
        if event_type not in EVENT_TYPES:
            errors["type"] = f"unknown event type {value['type']!r}"[:200]
        direction = value.get("direction", "").lower()
        if direction and direction not in DIRECTIONS:
            errors["direction"] = "direction must be in or out"
        direction = direction or {INCOMING: "in", OUTGOING: "out"}.get(event_type, "")
    if cmd == HISTORY:
        direction = value.get("type", "").lower()
        if "type" not in errors and direction not in DIRECTIONS:
            errors["type"] = "type must be in or out for cmd=history"
        status = STATUSES.get(value.get("status", "").lower(), "")
        if "status" not in errors and not status:
            errors["status"] = f"unknown status {value['status']!r}"[:200]
    start = None
    if value.get("start"):
        try:
            start = parse_start(value["start"])
        except ValueError:
            errors["start"] = "start must look like 20240315T091512Z"
    duration = _seconds(value.get("duration", ""), "duration", errors)
    wait = _seconds(value.get("wait", ""), "wait", errors)
    rating = None
    if value.get("rating"):
        try:
            rating = int(value["rating"])
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
        phone=value.get("phone", ""),
        event_type=event_type,
        direction=direction,
        status=status,
        user=pbx_login(value.get("user", "")),
        ext=value.get("ext", ""),
        telnum=value.get("telnum", ""),
        diversion=value.get("diversion", ""),
        group_name=value.get("groupRealName", ""),
        second_callid=value.get("second_callid", "")[:MAX_CALLID],
        start=start,
        duration=duration,
        wait=wait,
        # Only web addresses become players and links; anything else stays in the raw payload.
        link=value.get("link", "")
        if value.get("link", "").startswith(("https://", "http://"))
        else "",
        rating=rating,
        extra={k: v for k, v in fields.items() if k not in known},
    )
