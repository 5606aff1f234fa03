"""Telegram may deliver an update twice (a webhook retry, a polling restart): the second
copy is dropped here, whichever process of the deployment it reaches, as far as the store
of seen updates (`bot.cluster.updates`) is shared. When that store cannot be asked the
update is handled anyway (better twice than never), so handlers stay safe to repeat."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update

from bot.cluster.updates import RecentUpdates, SeenUpdates


class DedupeMiddleware(BaseMiddleware):
    """Outermost: a repeated update costs nothing further down. Without a store, this
    process's memory."""

    def __init__(self, seen: SeenUpdates | None = None) -> None:
        self.seen = seen or RecentUpdates()

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        if isinstance(event, Update) and not await self.seen.first_time(event.update_id):
            return None
        return await handler(event, data)
