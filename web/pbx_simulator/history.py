"""The simulated PBX's call history: every call it played, as it ended, whether or not the CRM
got its webhooks (PROTOCOL.md §2.1 legacy CSV, §2.2 REST `/history/json`).

So a newcomer can stop the CRM, play calls, start it again and watch them appear: the CRM's
reconciliation reads them back from here.
"""

from __future__ import annotations

import csv
import io
import random
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from web.pbx_simulator.fields import Fields

COMPANY_NUMBER = "74950000000"


@dataclass
class HistoryRecord:
    """One ended call, as the PBX's history keeps it."""

    uid: str
    direction: str  # in / out
    status: str  # as the webhook spelled it: Success, Missed, …
    phone: str
    user: str  # login
    start: datetime
    duration: int = 0
    wait: int = 0
    record: str = ""
    rating: str = ""
    diversion: str = ""
    group_name: str = ""

    def rest(self) -> dict[str, object]:
        """As `GET /crmapi/v1/history/json` gives it: lowercase snake statuses, ISO start."""
        return {
            "uid": self.uid,
            "type": self.direction,
            "status": _snake(self.status),
            "client": self.phone,
            "diversion": self.diversion,
            "destination": "user" if self.status.lower() == "success" else "group",
            "user": self.user,
            "user_name": "",
            "group_name": self.group_name,
            "start": self.start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "wait": self.wait,
            "duration": self.duration,
            "record": self.record,
            "rating": int(self.rating) if self.rating.isdigit() else None,
        }

    def csv_row(self, domain: str) -> list[str]:
        """As legacy `cmd=history` gives it: uid, type (in/out/missed), client with `+`,
        account `login@domain`, via, start in extended ISO, wait, duration, record, rating."""
        missed = self.direction == "in" and self.status.lower() != "success"
        return [
            self.uid,
            "missed" if missed else self.direction,
            "+" + self.phone,
            f"{self.user}@{domain}",
            "+" + self.diversion if self.diversion else "",
            self.start.strftime("%Y-%m-%dT%H:%M:%S+00:00"),
            str(self.wait),
            str(self.duration),
            self.record,
            self.rating,
        ]


def _snake(status: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", status).lower()


def read_moment(text: str) -> datetime | None:
    """`20260101T000000Z` or `2026-01-01T00:00:00Z`; None when it is neither."""
    text = text.strip()
    try:
        if re.fullmatch(r"\d{8}T\d{6}Z", text):
            return datetime.strptime(text, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class CallHistory:
    """The calls the simulated PBX played, by `uid`; a later `history` of a call fills in."""

    def __init__(self) -> None:
        self.records: dict[str, HistoryRecord] = {}

    def keep(self, fields: Fields) -> None:
        """Keep a call's `history` webhook as it is sent (other steps are ignored)."""
        if fields.get("cmd") != "history" or not fields.get("callid"):
            return
        start = read_moment(fields.get("start", "")) or datetime.now(UTC)
        record = HistoryRecord(
            uid=fields["callid"],
            direction=fields.get("type", "in"),
            status=fields.get("status", "Success"),
            phone=fields.get("phone", ""),
            user=fields.get("user", "").split("@", 1)[0].strip(),
            start=start,
            duration=int(fields.get("duration") or 0),
            wait=int(fields.get("wait") or 0),
            record=fields.get("link", ""),
            rating=fields.get("rating", ""),
            diversion=fields.get("diversion", ""),
            group_name=fields.get("groupRealName", ""),
        )
        known = self.records.get(record.uid)
        if known is not None:  # a second history of the same call fills what the first lacked
            record.record = record.record or known.record
            record.rating = record.rating or known.rating
        self.records[record.uid] = record

    def between(
        self, start: datetime, end: datetime, kind: str = "all", user: str = ""
    ) -> list[HistoryRecord]:
        """The calls that started in [start, end), oldest first."""
        found = [
            r
            for r in self.records.values()
            if start <= r.start < end
            and (kind in ("", "all") or _kind(r) == kind)
            and (not user or r.user == user)
        ]
        found.sort(key=lambda r: (r.start, r.uid))
        return found

    def load_day(
        self, day: datetime, count: int, users: list[dict[str, str]], recordings: str
    ) -> int:
        """`count` synthetic calls spread over the day that starts at `day` (tests, benchmark):
        a mix of answered (with a recording), missed and outbound calls of a few thousand
        clients; the number loaded."""
        rng = random.Random(f"{day.isoformat()}:{count}")
        for i in range(count):
            uid = str(uuid.UUID(int=rng.getrandbits(128)))
            start = day + timedelta(seconds=int(i * 86400 / max(count, 1)))
            roll = rng.random()
            direction = "out" if roll > 0.75 else "in"
            status = "Missed" if roll < 0.2 else ("Busy" if roll > 0.95 else "Success")
            answered = status == "Success"
            self.records[uid] = HistoryRecord(
                uid=uid,
                direction=direction,
                status=status,
                phone=f"7916{rng.randrange(10**7):07d}",
                user=rng.choice(users)["login"],
                start=start,
                duration=rng.randrange(5, 600) if answered else 0,
                wait=rng.randrange(0, 30),
                record=f"{recordings}/{quote(uid)}.wav" if answered else "",
                diversion=COMPANY_NUMBER if direction == "in" else "",
            )
        return count


def _kind(record: HistoryRecord) -> str:
    if record.direction == "in" and record.status.lower() != "success":
        return "missed"
    return record.direction


def as_csv(records: list[HistoryRecord], domain: str) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for record in records:
        writer.writerow(record.csv_row(domain))
    return buffer.getvalue()
