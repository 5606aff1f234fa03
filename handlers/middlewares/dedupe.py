"""Telegram may deliver an update twice (a webhook retry, a polling restart): the second
copy is dropped here. Handlers stay safe to repeat anyway, since a restart forgets."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update


class RecentUpdates:
    """The last `size` update ids seen by this process."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._seen: OrderedDict[int, None] = OrderedDict()

    def first_time(self, update_id: int) -> bool:
        if update_id in self._seen:
            return False
        self._seen[update_id] = None
        if len(self._seen) > self.size:
            self._seen.popitem(last=False)
        return True


class DedupeMiddleware(BaseMiddleware):
    def __init__(self, recent: RecentUpdates | None = None) -> None:
        self.recent = recent or RecentUpdates()

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        if isinstance(event, Update) and not self.recent.first_time(event.update_id):
            return None
        return await handler(event, data)
