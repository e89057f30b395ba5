"""The simulated PBX while it runs: its employees, how its API behaves, the calls it placed."""

from __future__ import annotations

import re
import uuid
from collections import deque
from dataclasses import dataclass
from typing import TypedDict

from starlette.requests import Request

from web.pbx_simulator.config import SimulatorConfig
from web.pbx_simulator.recordings import recordings_url
from web.pbx_simulator.scenarios import Call
from web.pbx_simulator.webhooks import CrmWebhooks

REST, LEGACY = "rest", "legacy"
_DIGITS = re.compile(r"[0-9]{1,32}")  # the PBX rejects a leading "+" (PROTOCOL.md §2.3)


@dataclass
class Behaviour:
    """How the PBX API misbehaves right now; changed through `/simulator/behaviour`."""

    delay: float = 0.0
    fail_status: int = 0
    outcome: str = "Success"


class PlacedCall(TypedDict):
    callid: str
    user: str
    phone: str
    api: str


def is_phone(text: str) -> bool:
    """Digits only, as the PBX accepts a client's number."""
    return _DIGITS.fullmatch(text) is not None


class Pbx:
    """One simulated PBX; the handlers find it in the app's lifespan state (`pbx_of`)."""

    def __init__(self, config: SimulatorConfig, webhooks: CrmWebhooks) -> None:
        self.config = config
        self.webhooks = webhooks
        self.behaviour = Behaviour()
        self.calls: deque[PlacedCall] = deque(maxlen=1000)

    def find_user(self, wanted: str) -> dict[str, str] | None:
        """The employee by login, `login@domain`, extension or direct number."""
        wanted = wanted.strip()
        login = wanted.split("@", 1)[0]
        for user in self.config.users:
            if login == user["login"] or wanted in (user["ext"], user["telnum"]):
                return user
        return None

    def next_user(self, user: dict[str, str]) -> dict[str, str]:
        """The employee a call to `user` is transferred to."""
        users = self.config.users
        return users[(users.index(user) + 1) % len(users)]

    def make_call(
        self, request: Request, api: str, wanted: str, user: dict[str, str], phone: str
    ) -> str:
        """Accept a makeCall from the CRM and play the outbound call; its callid."""
        callid = str(uuid.uuid4())
        self.calls.append(PlacedCall(callid=callid, user=wanted, phone=phone, api=api))
        call = Call(callid, phone, recordings_url(self.config, request))
        self.webhooks.play_later(call.outbound(user, self.behaviour.outcome))
        return callid

    def play_scenario(self, request: Request, name: str, user: dict[str, str], phone: str) -> str:
        """Play the scenario call `name` to the CRM; its callid."""
        call = Call(str(uuid.uuid4()), phone, recordings_url(self.config, request))
        self.webhooks.play_later(call.scenario(name, user, self.next_user(user)))
        return call.callid


def pbx_of(request: Request) -> Pbx:
    """The PBX this request reached."""
    pbx: Pbx = request.state.pbx
    return pbx
