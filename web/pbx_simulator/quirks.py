"""What real PBXs send that a textbook one would not (PROTOCOL.md §6.1), each behind a switch,
so that a demo or a test shows the CRM taking it:

- `lowercase_status`: history statuses as MegaFon itself sends them, `missed`, `success`;
- `user_at_domain`: `user` as ` login@domain ` with its stray spaces;
- `late_recording`: a call with a recording gets its history twice, the link only in the second;
- `get`: webhooks as GET with the fields in the query string (the vendor documents GET);
- `cp1251`: form bodies in windows-1251, as their `Content-Type` says (ignored with `get`).

The scenarios `off_hours` (`contact` and `history`, no events) and `missed_group` (`pbx` and a
group `g_…` as the user) are quirks of their own, in `scenarios.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import urlencode

from web.pbx_simulator.fields import Fields

DOMAIN = "vats123456.megapbx.ru"  # what `user@…` carries


@dataclass
class Quirks:
    """Which quirks the simulator plays now; all off: the textbook PBX."""

    lowercase_status: bool = False
    user_at_domain: bool = False
    late_recording: bool = False
    get: bool = False
    cp1251: bool = False

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    def shape(self, steps: list[Fields]) -> list[Fields]:
        """A call's webhooks as this PBX sends them."""
        shaped: list[Fields] = []
        for step in steps:
            step = dict(step)
            if self.lowercase_status and "status" in step:
                step["status"] = step["status"].lower()
            if self.user_at_domain and step.get("user"):
                step["user"] = f" {step['user']}@{DOMAIN} "
            if self.late_recording and step["cmd"] == "history" and "link" in step:
                shaped.append({k: v for k, v in step.items() if k != "link"})
            shaped.append(step)
        return shaped

    def request(self, url: str, fields: Fields) -> dict[str, Any]:
        """The arguments of `httpx.AsyncClient.request` that send `fields` to `url`."""
        if self.get:
            return {"method": "GET", "url": url, "params": fields}
        if self.cp1251:
            return {
                "method": "POST",
                "url": url,
                "content": urlencode(fields, encoding="cp1251", errors="replace"),
                "headers": {
                    "Content-Type": "application/x-www-form-urlencoded; charset=windows-1251"
                },
            }
        return {"method": "POST", "url": url, "data": fields}
