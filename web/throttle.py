"""Failed sign-ins are counted per account and per client address with the `limits` library
(a moving window): past the limits (`LOGIN_LIMITS`, by default 5 a minute and 20 an hour) the
sign-in is refused with 429 until the oldest failure leaves the window. Counts live in this
process's memory, or in Redis when `REDIS_URL` is set, so every process shares them."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time

from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter


class LoginThrottle:
    def __init__(
        self, limits: str, redis_url: str | None = None, key_prefix: str = "crm-login"
    ) -> None:
        self.limits: list[RateLimitItem] = parse_many(limits)
        self._storage: Storage = (
            RedisStorage(redis_url, implementation="redispy", key_prefix=key_prefix)
            if redis_url
            else MemoryStorage()
        )
        self._limiter = MovingWindowRateLimiter(self._storage)

    @staticmethod
    def _keys(email: str, address: str) -> list[tuple[str, str]]:
        return [("account", email.strip().lower()), ("address", address)]

    async def wait(self, email: str, address: str) -> int:
        """Seconds until this account may try again from this address; 0: it may now."""
        longest = 0.0
        for kind, key in self._keys(email, address):
            for limit in self.limits:
                if not await self._limiter.test(limit, kind, key):
                    stats = await self._limiter.get_window_stats(limit, kind, key)
                    longest = max(longest, stats.reset_time - time.time())
        return math.ceil(longest) if longest > 0 else 0

    async def failed(self, email: str, address: str) -> None:
        for kind, key in self._keys(email, address):
            for limit in self.limits:
                await self._limiter.hit(limit, kind, key)

    async def succeeded(self, email: str) -> None:
        """The account's own failures are forgiven; the address's are not."""
        for limit in self.limits:
            await self._limiter.clear(limit, "account", email.strip().lower())

    async def aclose(self) -> None:
        if isinstance(self._storage, MemoryStorage) and self._storage.timer is not None:
            self._storage.timer.cancel()  # its housekeeping task
            with contextlib.suppress(asyncio.CancelledError):
                await self._storage.timer
        if isinstance(self._storage, RedisStorage):
            client = getattr(self._storage.bridge, "storage", None)
            if client is not None:
                with contextlib.suppress(Exception):
                    await client.aclose()
