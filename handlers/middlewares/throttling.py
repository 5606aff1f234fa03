"""Per-user throttling of messages and button presses: a token bucket per user.

Updates over the limit are dropped without an answer, so a flood costs one dict lookup.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update, User


class ThrottlingMiddleware(BaseMiddleware):
    def __init__(self, rate: float = 2.0, burst: int = 8, max_users: int = 100_000) -> None:
        self.rate = rate
        self.burst = burst
        self.max_users = max_users
        self._buckets: dict[int, tuple[float, float]] = {}

    def allow(self, user_id: int, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        tokens, last = self._buckets.get(user_id, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        if tokens < 1:
            self._buckets[user_id] = (tokens, now)
            return False
        if len(self._buckets) >= self.max_users and user_id not in self._buckets:
            self._buckets.clear()  # crude but bounded: a full table starts over
        self._buckets[user_id] = (tokens - 1, now)
        return True

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        user: User | None = data.get("event_from_user")
        throttled = isinstance(event, Update) and (event.message or event.callback_query)
        if throttled and user is not None and not self.allow(user.id):
            return None
        return await handler(event, data)
