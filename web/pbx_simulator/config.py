"""How a simulated PBX is set up: its API token, the CRM it calls, its employees."""

from __future__ import annotations

from dataclasses import dataclass, field

from web.pbx_simulator.quirks import Quirks

DEMO_API_KEY = "sim-token"


def default_users() -> list[dict[str, str]]:
    """Three employees, one of them the PBX's admin."""
    return [
        {
            "login": "admin",
            "name": "Анна Администратор",
            "ext": "700",
            "telnum": "74950000700",
            "email": "admin@vats.example",
            "role": "admin",
        },
        {
            "login": "ivanov",
            "name": "Иван Иванов",
            "ext": "701",
            "telnum": "74950000701",
            "email": "ivanov@vats.example",
            "role": "user",
        },
        {
            "login": "sidorova",
            "name": "Мария Сидорова",
            "ext": "702",
            "telnum": "74950000702",
            "email": "sidorova@vats.example",
            "role": "user",
        },
    ]


@dataclass
class SimulatorConfig:
    api_key: str
    crm_url: str = ""
    crm_key: str = ""
    public_url: str = ""
    step_delay: float = 1.0
    rest: bool = True
    users: list[dict[str, str]] = field(default_factory=default_users)
    quirks: Quirks = field(default_factory=Quirks)  # what real PBXs send (quirks.py)
