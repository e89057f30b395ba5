"""Password hashing with argon2, off the event loop (a hash costs ~150 ms of CPU here), and
the rules a new password must follow.

Each argon2 check takes 64 MB of memory for its duration, so only a few run at once (`checks`):
the rest wait their turn, and a check that cannot start within `wait` seconds gives up with
`PasswordsBusy`, so a flood of sign-ins costs bounded memory and never hangs anyone for long."""

from __future__ import annotations

import asyncio

import anyio.to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn.frequency_lists import FREQUENCY_LISTS

from core.i18n import gettext as _

MIN_LENGTH = 8
# The 10,000 most common passwords of zxcvbn's list (it ships with the package, offline).
_COMMON = frozenset(FREQUENCY_LISTS["passwords"][:10_000])


class PasswordsBusy(Exception):
    """Too many password checks are waiting already: the caller should try again shortly."""


def password_problem(password: str) -> str | None:
    """Why a new password is refused, or None when it is acceptable."""
    if password and not password.strip():
        return _("Пароль не может состоять только из пробелов.")
    if len(password) < MIN_LENGTH:
        return _("Пароль должен быть не короче 8 символов.")
    if password.lower() in _COMMON or password.strip().lower() in _COMMON:
        return _("Это один из самых распространённых паролей: придумайте другой.")
    return None


class Passwords:
    """Hashes and verifies passwords; tests build one with cheap parameters."""

    def __init__(self, *, cheap: bool = False, checks: int = 2, wait: float = 10.0) -> None:
        self._hasher = (
            PasswordHasher(time_cost=1, memory_cost=8, parallelism=1) if cheap else PasswordHasher()
        )
        self._dummy: str | None = None
        self._dummy_made = asyncio.Lock()
        self._slots = asyncio.Semaphore(checks)
        self._wait = wait

    async def hash(self, password: str) -> str:
        async with self._slots:  # an admin's action: it waits its turn however long
            return await anyio.to_thread.run_sync(self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """True when the password matches; an unknown user still costs one verification.
        Raises `PasswordsBusy` when no check could start within the allowed wait."""
        if password_hash is None:
            async with self._dummy_made:  # once, even when many unknown names come at once
                if self._dummy is None:
                    self._dummy = await self.hash("not a password of anyone")
            password_hash = self._dummy
        try:
            async with asyncio.timeout(self._wait):
                await self._slots.acquire()
        except TimeoutError:
            raise PasswordsBusy from None
        try:
            return await anyio.to_thread.run_sync(self._hasher.verify, password_hash, password)
        except (VerificationError, InvalidHashError):
            return False
        finally:
            self._slots.release()
