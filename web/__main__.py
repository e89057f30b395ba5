"""Command line: `python -m web serve [--demo] | create-admin | simulate-pbx`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import os
import secrets
import socket
import sys
import threading
from pathlib import Path
from urllib.parse import urlsplit

import uvicorn

from core import demo, employees, setup_code
from core.db import Database
from core.db.sqlite import sqlite_path
from core.errors import StorageUnavailable, ValidationError
from core.migrations import migrate
from core.passwords import Passwords
from web import logs, pbx_simulator
from web.app import create_app
from web.config import Settings

DATA_DIR = Path("data")  # the embedded database and the kept secret key, by default


async def _create_admin(settings: Settings, args: argparse.Namespace) -> int:
    async with Database(settings.database_url) as db:
        await migrate(db)
        data = employees.EmployeeInput(
            name=args.name or args.email.split("@")[0], email=args.email, password=args.password
        )
        try:
            user = await employees.create_admin(db, Passwords(), args.project, data)
        except ValidationError as e:
            for field, message in e.errors.items():
                print(f"{field}: {message}", file=sys.stderr)
            return 2
    print(f"Администратор {user['email']} создан в проекте «{args.project}».")
    return 0


async def _demo(settings: Settings) -> None:
    async with Database(settings.database_url) as db:
        await migrate(db)
        credentials = await demo.fill(db, Passwords())
    if credentials is None:
        print("Демо-данные не добавлены: в базе уже есть сотрудники.")
    else:
        print("Демо-проект готов. Войдите как администратор:")
        print(f"  email:  {credentials[0]}\n  пароль: {credentials[1]}")


async def _setup_code(settings: Settings) -> str | None:
    async with Database(settings.database_url) as db:
        await migrate(db)
        issued = await setup_code.ensure(db)
    return None if issued is None else issued[0]


def _start_demo_pbx(settings: Settings, host: str, port: int, pbx_port: int) -> None:
    """The demo's PBX: our simulator in a thread, connected both ways to the demo project."""
    token = secrets.token_urlsafe(16)
    pbx_url = f"http://127.0.0.1:{pbx_port}"

    async def connect() -> tuple[str, str] | None:
        async with Database(settings.database_url) as db:
            return await demo.connect_simulator(db, pbx_url, token)

    linked = asyncio.run(connect())
    if linked is None:
        print("Симулятор АТС не подключён: в базе нет демо-проекта.")
        return
    crm_key, token = linked  # the token the project already had with this simulator, if any
    crm_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    crm_url = f"http://{crm_host}:{port}/megafon_webhook"
    if _port_taken(pbx_port):
        print(
            f"Симулятор АТС уже работает на {pbx_url}/ — демо-проект подключён к нему; "
            "звонки, сыгранные на нём, пока CRM была остановлена, она прочитает из его "
            "истории при запуске («Сверка с АТС»)."
        )
        return
    config = pbx_simulator.SimulatorConfig(
        api_key=token, crm_url=crm_url, crm_key=crm_key, public_url=pbx_url
    )
    server = uvicorn.Server(
        uvicorn.Config(
            pbx_simulator.create_simulator(config),
            host="127.0.0.1",
            port=pbx_port,
            log_level="warning",
            loop="asyncio",
        )
    )
    threading.Thread(target=server.run, daemon=True).start()
    print(f"Симулятор АТС МегаФон: {pbx_url}/ (входящие звонки — кнопками на его странице)")
    print(
        "  Он остановится вместе с CRM. Чтобы увидеть, как CRM восстанавливает звонки, "
        "прошедшие, пока она стояла: остановите CRM, запустите симулятор отдельно\n"
        f"  {sys.executable} -m web simulate-pbx --port {pbx_port} --crm {crm_url} "
        f"--crm-key {crm_key} --api-key {token}\n"
        "  сыграйте звонки на его странице и запустите CRM снова."
    )


def _port_taken(port: int) -> bool:
    """Whether something (a simulator run on its own) already listens on 127.0.0.1:`port`:
    asked by connecting, since a port a stopped simulator left in TIME_WAIT cannot be bound
    without SO_REUSEADDR, yet is free for uvicorn, which sets it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _owner_only(directory: Path) -> None:
    if directory.is_dir():
        with contextlib.suppress(PermissionError):  # another owner's: theirs to change
            directory.chmod(0o700)


def _cannot_write(database_url: str, error: StorageUnavailable | OSError) -> str:
    """The one line `serve` prints, instead of a traceback, when its database cannot be
    written: a person has to free the disk or fix the path's permissions."""
    reason = error.reason if isinstance(error, StorageUnavailable) else error.strerror
    sqlite = database_url.startswith("sqlite")
    where = sqlite_path(database_url) if sqlite else urlsplit(database_url).hostname
    return f"Не удаётся писать в базу данных {where}: {reason or error}."


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m web", description="CRM с телефонией МегаФон")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="запустить сервер")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--access-log",
        action="store_true",
        help="писать строку на каждый запрос (вебхуки АТС и так видны в журнале вебхуков)",
    )
    serve.add_argument(
        "--workers", type=int, default=1, help="число процессов (для нагрузки и PostgreSQL)"
    )
    serve.add_argument(
        "--demo", action="store_true", help="заполнить пустую базу демо-проектом и клиентами"
    )

    serve.add_argument(
        "--pbx-port",
        type=int,
        default=0,
        help="порт симулятора АТС в демо-режиме (по умолчанию порт сервера + 10)",
    )
    pbx_simulator.add_command(commands)

    admin = commands.add_parser("create-admin", help="создать проект и администратора")
    admin.add_argument("--project", required=True)
    admin.add_argument("--email", required=True)
    admin.add_argument("--password", required=True)
    admin.add_argument("--name", default="")

    args = parser.parse_args(argv)
    # What the app creates (the database, its WAL, data/ and the secret key in it) is the
    # owner's only; files made readable by all before are narrowed as the database opens.
    os.umask(0o077)
    _owner_only(DATA_DIR)
    settings = Settings.from_environ(data_dir=DATA_DIR)
    if args.command == "create-admin":
        try:
            return asyncio.run(_create_admin(settings, args))
        except (StorageUnavailable, OSError) as e:
            print(_cannot_write(settings.database_url, e), file=sys.stderr)
            return 1
    if args.command == "simulate-pbx":
        return pbx_simulator.run(args)
    try:
        if args.demo:
            # The demo's PBX is our simulator on 127.0.0.1, an address the CRM otherwise
            # refuses (worker processes read the same from the environment).
            os.environ["PBX_ALLOW_PRIVATE"] = "1"
            settings = dataclasses.replace(settings, pbx_allow_private=True)
            asyncio.run(_demo(settings))
            _start_demo_pbx(settings, args.host, args.port, args.pbx_port or args.port + 10)
        code = asyncio.run(_setup_code(settings))  # opens the database: can it write?
    except (StorageUnavailable, OSError) as e:
        print(_cannot_write(settings.database_url, e), file=sys.stderr)
        return 1
    print(f"CRM работает: http://{args.host}:{args.port}/")
    if code is not None:
        print(f"Код установки: {code}", flush=True)
        print(
            f"  Введите его на странице http://{args.host}:{args.port}/setup, "
            "чтобы создать проект и первого администратора.",
            flush=True,
        )
    options = {
        "host": args.host,
        "port": args.port,
        "proxy_headers": True,
        "timeout_graceful_shutdown": 5,
        "access_log": args.access_log,
        "log_config": logs.config(settings.log_level),
        "log_level": settings.log_level.lower(),
        # Measured: under full load uvloop served some connections 10-20x later than others
        # (p99 180-400 ms against a 17 ms median); the stock loop keeps the p99 near the median.
        "loop": "asyncio",
    }
    if args.workers > 1 and settings.database_url.startswith("sqlite") and not settings.redis_url:
        print(
            "Внимание: на SQLite без REDIS_URL процессы не делятся живыми обновлениями; "
            "открытые страницы увидят только события своего процесса.",
            file=sys.stderr,
        )
    if args.workers > 1:
        # Worker processes import the app themselves, configured from the same environment
        # (SECRET_KEY is kept in data/ by now, so they all agree).
        uvicorn.run("web.app:from_environ", factory=True, workers=args.workers, **options)
    else:
        uvicorn.run(create_app(settings), **options)
    return 0


if __name__ == "__main__":
    sys.exit(main())
