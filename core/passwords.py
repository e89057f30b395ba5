"""Password hashing with argon2, off the event loop (a hash costs ~150 ms of CPU here)."""

from __future__ import annotations

import anyio.to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 8


class Passwords:
    """Hashes and verifies passwords; tests build one with cheap parameters."""

    def __init__(self, *, cheap: bool = False) -> None:
        self._hasher = (
            PasswordHasher(time_cost=1, memory_cost=8, parallelism=1) if cheap else PasswordHasher()
        )
        self._dummy: str | None = None

    async def hash(self, password: str) -> str:
        return await anyio.to_thread.run_sync(self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """True when the password matches; an unknown user still costs one verification."""
        if password_hash is None:
            if self._dummy is None:
                self._dummy = await self.hash("not a password of anyone")
            password_hash = self._dummy
        try:
            return await anyio.to_thread.run_sync(self._hasher.verify, password_hash, password)
        except (VerificationError, InvalidHashError):
            return False
