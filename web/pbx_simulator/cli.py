"""`python -m web simulate-pbx`: the simulator on a port of its own, until interrupted."""

from __future__ import annotations

import argparse

import uvicorn

from web.pbx_simulator.app import create_simulator
from web.pbx_simulator.config import DEMO_API_KEY, SimulatorConfig
from web.pbx_simulator.quirks import Quirks


def add_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `simulate-pbx` to the CLI."""
    parser = commands.add_parser(
        "simulate-pbx", help="запустить симулятор АТС МегаФон (для разработки и демо)"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8010)
    parser.add_argument(
        "--crm",
        default="",
        help="адрес вебхука CRM, например http://127.0.0.1:8000/megafon_webhook",
    )
    parser.add_argument("--crm-key", default="", help="«Ключ для авторизации в вашей CRM»")
    parser.add_argument(
        "--api-key", default=DEMO_API_KEY, help="«Ключ для авторизации в АТС» (API token)"
    )
    parser.add_argument(
        "--step-delay", type=float, default=1.0, help="пауза между вебхуками одного звонка, с"
    )
    parser.add_argument(
        "--legacy-only", action="store_true", help="без REST API: только /sys/crm_api.wcgp"
    )
    parser.add_argument("--public-url", default="", help="адрес симулятора для ссылок на записи")
    parser.add_argument(
        "--quirk",
        action="append",
        default=[],
        choices=Quirks.names(),
        help="слать, как настоящая АТС (можно несколько раз): статусы строчными, "
        "user@домен, запись во второй history, GET, windows-1251",
    )


def run(args: argparse.Namespace) -> int:
    """Serve the simulator until interrupted."""
    config = SimulatorConfig(
        api_key=args.api_key,
        crm_url=args.crm,
        crm_key=args.crm_key,
        public_url=args.public_url,
        step_delay=args.step_delay,
        rest=not args.legacy_only,
        quirks=Quirks(**dict.fromkeys(args.quirk, True)),
    )
    host = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host
    domain = f"http://{f'[{host}]' if ':' in host else host}:{args.port}"
    print(f"Симулятор АТС МегаФон: {domain}/")
    print("В CRM, раздел «Телефония» → «Мегафон», укажите:")
    print(f"  Megafon domain: {domain}")
    print(f"  API token:      {config.api_key}")
    if config.crm_url:
        print(f"Вебхуки уходят на {config.crm_url} с ключом «{config.crm_key}».")
    else:
        print("Адрес CRM не задан (--crm): звонки играются, но вебхуки никуда не отправляются.")
    uvicorn.run(create_simulator(config), host=args.host, port=args.port, loop="asyncio")
    return 0
