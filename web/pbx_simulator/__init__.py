"""A MegaFon virtual PBX on your own machine, for development, demos and end-to-end tests.

It answers the CRM → PBX API (PROTOCOL.md §2: REST v1 and the legacy `/sys/crm_api.wcgp`,
`api.py`) and plays calls to the CRM as form-urlencoded webhooks (§1, `scenarios.py`,
`webhooks.py`), one step every `step_delay` seconds, the way the real PBX does. Its page and
`/simulator/...` (`control.py`) let a test or a person start calls, make the API slow or
failing, and see what was asked and what was sent.

It stands apart from the CRM: nothing here imports `core` or the rest of `web`.
"""

from web.pbx_simulator.app import create_simulator
from web.pbx_simulator.cli import add_command, run
from web.pbx_simulator.config import DEMO_API_KEY, SimulatorConfig

__all__ = ["DEMO_API_KEY", "SimulatorConfig", "add_command", "create_simulator", "run"]
