"""The webhooks a call sends to the CRM (PROTOCOL.md §1, §3), step by step, for each scenario."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote

from web.pbx_simulator.fields import Fields

COMPANY_NUMBER = "74950000000"  # the number clients dial; sent as `diversion` on inbound calls
DEFAULT_PHONE = "79161234567"
TALK_SECONDS = 42
SCENARIOS = {
    "answered": "Входящий, ответили",
    "missed": "Входящий, пропущен",
    "transferred": "Входящий, переведён",
    "busy": "Исходящий, занято",
    "not_available": "Исходящий, недоступен",
    "unknown_caller": "Звонит новый номер",
    "off_hours": "Входящий в нерабочее время (без событий)",
    "missed_group": "Входящий в отдел, никто не ответил",
}
GROUP = "Отдел продаж"  # the department of `missed_group`, as `groupRealName` names it
OUTCOMES = ("Success", "Busy", "NotAvailable", "Missed")


def scenario_phone(scenario: str, phone: str) -> str:
    """The client's number: a fresh one for an unknown caller, the default when none is given."""
    if scenario == "unknown_caller":
        return "7916" + "".join(random.choices("0123456789", k=7))
    return phone or DEFAULT_PHONE


@dataclass
class Call:
    """One call's webhooks: every step carries the same `callid`."""

    callid: str
    phone: str
    recordings: str  # base URL of the recordings
    start: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ"))

    def scenario(self, name: str, user: dict[str, str], next_user: dict[str, str]) -> list[Fields]:
        """The webhooks of the scenario `name` (a key of SCENARIOS)."""
        if name in ("answered", "unknown_caller"):
            return self.inbound(user, "Success")
        if name == "missed":
            return self.inbound(user, "Missed")
        if name == "transferred":
            return self.inbound(user, "Success", transfer_to=next_user)
        if name == "off_hours":
            return self.off_hours()
        if name == "missed_group":
            return self.missed_group([user, next_user])
        return self.outbound(user, "Busy" if name == "busy" else "NotAvailable")

    def outbound(self, user: dict[str, str], outcome: str) -> list[Fields]:
        """A call from the employee to the client, ending with `outcome` (one of OUTCOMES)."""
        steps = [self._event("OUTGOING", user, "out")]
        if outcome == "Success":
            steps += [self._event("ACCEPTED", user, "out"), self._event("COMPLETED", user, "out")]
        else:
            steps.append(self._event("CANCELLED", user, "out"))
        return [*steps, self._history("out", outcome, user)]

    def inbound(
        self, user: dict[str, str], outcome: str, transfer_to: dict[str, str] | None = None
    ) -> list[Fields]:
        """A call from the client to the employee, perhaps transferred to another one."""
        contact = {"cmd": "contact", "phone": self.phone, "callid": self.callid}
        steps = [{**contact, "diversion": COMPANY_NUMBER}, self._event("INCOMING", user, "in")]
        if outcome != "Success":
            steps.append(self._event("CANCELLED", user, "in"))
            return [*steps, self._history("in", outcome, user)]
        steps.append(self._event("ACCEPTED", user, "in"))
        if transfer_to is not None:
            # The transferring employee's event names the other leg (PROTOCOL.md W15);
            # the rest of the call is the second employee's, under the same callid.
            transferred = self._event("TRANSFERRED", user, "in")
            steps.append({**transferred, "second_callid": str(uuid.uuid4())})
            user = transfer_to
        steps.append(self._event("COMPLETED", user, "in"))
        return [*steps, self._history("in", outcome, user)]

    def off_hours(self) -> list[Fields]:
        """Out of working hours the IVR answers and no employee is rung: the PBX sends no
        events, only `contact` and a `history` whose user is the PBX itself (PROTOCOL.md §6.1)."""
        contact = {"cmd": "contact", "phone": self.phone, "callid": self.callid}
        pbx = {"login": "pbx", "ext": "", "telnum": ""}
        return [{**contact, "diversion": COMPANY_NUMBER}, self._history("in", "Missed", pbx)]

    def missed_group(self, members: list[dict[str, str]]) -> list[Fields]:
        """A call to a department rings each member, nobody answers; the history names the
        group `g_…`, not a person (seen live on missed calls, PROTOCOL.md §1.8)."""
        group = "g_" + uuid.uuid5(uuid.NAMESPACE_DNS, GROUP).hex[:12]
        contact = {"cmd": "contact", "phone": self.phone, "callid": self.callid}
        steps = [{**contact, "diversion": COMPANY_NUMBER}]
        for kind in ("INCOMING", "CANCELLED"):
            steps += [{**self._event(kind, m, "in"), "groupRealName": GROUP} for m in members]
        history = self._history("in", "Missed", {"login": group, "ext": "", "telnum": ""})
        return [*steps, {**history, "groupRealName": GROUP, "group": group}]

    def _event(self, kind: str, user: dict[str, str], direction: str) -> Fields:
        fields = {"cmd": "event", "type": kind, "direction": direction, **self._common(user)}
        if direction == "in":
            fields["diversion"] = COMPANY_NUMBER  # no `diversion` on outbound (PROTOCOL.md W11)
        return fields

    def _history(self, direction: str, status: str, user: dict[str, str]) -> Fields:
        fields = {"cmd": "history", "type": direction, "status": status, **self._common(user)}
        if direction == "in":
            fields["diversion"] = COMPANY_NUMBER
        fields |= {"start": self.start, "duration": str(TALK_SECONDS if status == "Success" else 0)}
        if status == "Success":
            fields["link"] = f"{self.recordings}/{quote(self.callid)}.wav"
        return fields

    def _common(self, user: dict[str, str]) -> Fields:
        return {
            "phone": self.phone,
            "user": user["login"],
            "ext": user["ext"],
            "telnum": user["telnum"],
            "callid": self.callid,
        }
