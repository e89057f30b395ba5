"""The PBX's call history (PROTOCOL.md §2.1 `cmd=history`, §2.2 `GET /history/json`), read.

Both APIs give one record per call once it has ended; `HistoryCall` is that record whichever API
gave it, and `webhook_fields` the `history` webhook the PBX would have posted for it, so that
reconciliation applies it through the same path as a pushed webhook.

A reply that is not a history at all (not JSON, not a list, CSV that cannot be read) is
`PbxFailed`; a single record that cannot be read among good ones is skipped and counted
(`History.unreadable`), so one odd row does not stop every later call from being restored.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from core.telephony.protocol import parse_start, plausible_start

_NOT_DIGITS = re.compile(r"\D")


@dataclass(frozen=True)
class HistoryCall:
    """One ended call as the PBX's history tells it."""

    uid: str  # the call's `callid`
    direction: str  # in / out
    status: str  # as the PBX spells it (`success`, `Missed`, …); `protocol.parse` reads it
    phone: str  # the client's number, digits only
    user: str  # the employee's login (maybe `login@domain`), a group or `ivr`
    start: datetime  # UTC
    duration: int = 0  # talk, seconds
    wait: int = 0  # seconds before the answer
    record: str = ""  # the recording's URL
    rating: int | None = None
    diversion: str = ""  # our number the client dialled
    telnum: str = ""  # the number shown to the client on an outbound call
    group_name: str = ""

    def webhook_fields(self) -> dict[str, str]:
        """The `history` webhook the PBX would have posted for this call."""
        fields = {
            "cmd": "history",
            "callid": self.uid,
            "type": self.direction,
            "status": self.status,
            "phone": self.phone,
            "user": self.user,
            "start": self.start.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ"),
            "duration": str(self.duration),
            "wait": str(self.wait),
            "link": self.record,
            "rating": "" if self.rating is None else str(self.rating),
            "diversion": self.diversion,
            "telnum": self.telnum,
            "groupRealName": self.group_name,
        }
        return {k: v for k, v in fields.items() if v}


@dataclass
class History:
    """The calls of a window, each once, and how many records could not be read."""

    calls: list[HistoryCall] = field(default_factory=list)
    unreadable: int = 0


class NotAHistory(ValueError):
    """The reply as a whole is not a call history."""


def _text(value: Any) -> str:
    return "" if value is None else " ".join(str(value).split())


def _seconds(value: Any) -> int:
    text = _text(value)
    if not text:
        return 0
    number = int(float(text))
    if not 0 <= number <= 10**7:
        raise ValueError(f"seconds out of range: {text}")
    return number


def _rating(value: Any) -> int | None:
    text = _text(value)
    return int(float(text)) if text else None


def read_start(value: Any) -> datetime:
    """`2026-04-05T12:00:00Z`, `2017-07-07T16:14:08+03:00` or `20260405T120000Z`, as UTC."""
    text = _text(value)
    if re.fullmatch(r"\d{8}T\d{6}Z", text):
        return parse_start(text)
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # described as UTC (PROTOCOL.md §2.1)
    return plausible_start(moment).astimezone(UTC)


def _digits(value: Any) -> str:
    return _NOT_DIGITS.sub("", _text(value))


def _direction_and_status(kind: str, status: str, duration: int) -> tuple[str, str]:
    """The legacy API's `missed` type is an inbound call nobody answered; a record without a
    status is answered when it has talk time, else missed (inbound) or no answer (outbound:
    `Cancel`, as MegaFon says it, PROTOCOL.md §6.1)."""
    kind = kind.lower()
    if kind == "missed":
        return "in", status or "Missed"
    if kind not in ("in", "out"):
        raise ValueError(f"unknown type {kind!r}")
    if status:
        return kind, status
    if duration > 0:
        return kind, "Success"
    return kind, "Missed" if kind == "in" else "Cancel"


def from_rest(item: Mapping[str, Any]) -> HistoryCall:
    """One record of `GET /history/json` (ValueError when it cannot be read)."""
    uid = _text(item.get("uid") or item.get("callid"))
    if not uid:
        raise ValueError("no uid")
    duration = _seconds(item.get("duration"))
    direction, status = _direction_and_status(
        _text(item.get("type")), _text(item.get("status")), duration
    )
    return HistoryCall(
        uid=uid,
        direction=direction,
        status=status,
        phone=_digits(item.get("client")),
        user=_text(item.get("user")),
        start=read_start(item.get("start")),
        duration=duration,
        wait=_seconds(item.get("wait")),
        record=_text(item.get("record")),
        rating=_rating(item.get("rating")),
        diversion=_digits(item.get("diversion")),
        group_name=_text(item.get("group_name")),
    )


def read_rest(body: Any) -> History:
    """A page of `GET /history/json`: a JSON array of calls."""
    if not isinstance(body, list):
        raise NotAHistory("not a JSON list")
    history = History()
    for item in body:
        try:
            if not isinstance(item, dict):
                raise ValueError("not an object")
            history.calls.append(from_rest(item))
        except (ValueError, TypeError, OverflowError):
            history.unreadable += 1
    return history


def from_csv(row: list[str]) -> HistoryCall:
    """uid, type, client, account, via, start, wait, duration, record[, rating] (§2.1)."""
    if len(row) < 8:
        raise ValueError("too few columns")
    uid, kind, client, account, via, start, wait, duration = (c.strip() for c in row[:8])
    if not uid:
        raise ValueError("no uid")
    talk = _seconds(duration)
    direction, status = _direction_and_status(kind, "", talk)
    return HistoryCall(
        uid=uid,
        direction=direction,
        status=status,
        phone=_digits(client),
        user=account,
        start=read_start(start),
        duration=talk,
        wait=_seconds(wait),
        record=row[8].strip() if len(row) > 8 else "",
        rating=_rating(row[9]) if len(row) > 9 else None,
        # `via` is our number the client dialled, or the caller id shown on an outbound call.
        diversion=_digits(via) if direction == "in" else "",
        telnum=_digits(via) if direction == "out" else "",
    )


def read_csv(text: str) -> History:
    """The legacy API's history: CSV, one call a line; an empty reply is no calls. A byte
    order mark is no part of the first call's uid (else that call is taken for another)."""
    text = text.removeprefix("\ufeff")
    if text.lstrip().startswith(("{", "[", "<")):
        raise NotAHistory("JSON or HTML, not CSV")
    history = History()
    rows = [row for row in csv.reader(io.StringIO(text)) if any(c.strip() for c in row)]
    for row in rows:
        try:
            history.calls.append(from_csv(row))
        except (ValueError, TypeError, OverflowError):
            history.unreadable += 1
    if rows and not history.calls:
        raise NotAHistory("no line reads as a call")
    return history
