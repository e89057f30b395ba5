"""The one-time setup code. A fresh install (no employee yet) does not belong to its first
visitor: `/setup` asks for a code that only whoever started the server has seen, printed on
its console. The code lives in the database, so every worker process (and every server on
one PostgreSQL database) asks for the same one; it is deleted when the first admin exists."""

from __future__ import annotations

import secrets

import sqlalchemy as sa

from core import clock
from core.db import Database
from core.tables import setup_codes, users

# No 0/O, 1/I/L: the code is read off a console and typed by hand.
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
GROUPS, GROUP_LENGTH = 3, 4  # 12 characters: about 59 bits


def _new_code() -> str:
    chars = "".join(secrets.choice(ALPHABET) for _ in range(GROUPS * GROUP_LENGTH))
    return "-".join(chars[i : i + GROUP_LENGTH] for i in range(0, len(chars), GROUP_LENGTH))


def _normal(code: str) -> str:
    """What a person typed, as it is stored: case, spaces and dashes do not matter."""
    plain = "".join(c for c in code.upper() if c.isalnum())
    return "-".join(plain[i : i + GROUP_LENGTH] for i in range(0, len(plain), GROUP_LENGTH))


async def ensure(db: Database) -> tuple[str, bool] | None:
    """The install's setup code and whether it was made just now; None once the install has
    an employee. Processes starting together agree on one code."""
    async with db.transaction():
        await db.lock("setup_codes")
        if await db.fetch_val(sa.select(users.c.id).limit(1)) is not None:
            return None
        code = await current(db)
        if code is not None:
            return code, False
        code = _new_code()
        await db.execute(sa.insert(setup_codes).values(id=1, code=code, created_at=clock.now()))
        return code, True


async def current(db: Database) -> str | None:
    """The code a person would read on the console, if setup is still to be done."""
    code = await db.fetch_val(sa.select(setup_codes.c.code).where(setup_codes.c.id == 1))
    return None if code is None else str(code)


async def matches(db: Database, typed: str) -> bool:
    """Whether `typed` is the install's setup code (a missing code matches nothing)."""
    code = await current(db)
    return code is not None and secrets.compare_digest(_normal(typed).encode(), code.encode())


async def forget(db: Database) -> None:
    """Setup is done: the code opens nothing any more."""
    await db.execute(sa.delete(setup_codes))
