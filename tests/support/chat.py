"""Feeding updates to the dispatcher and reading back the bot's replies."""

from __future__ import annotations

from typing import Any

from aiogram import Bot, Dispatcher

from tests.support.fake_bot_api import FakeBotAPI


class Chat:
    """Feeds updates through the dispatcher and reads back what the bot sent."""

    def __init__(self, dp: Dispatcher, bot: Bot, api: FakeBotAPI) -> None:
        self.dp, self.bot, self.api = dp, bot, api

    async def feed(self, update: dict[str, Any]) -> None:
        await self.dp.feed_raw_update(self.bot, update)

    async def send(self, update: dict[str, Any], chat_id: int | None = None) -> str:
        """Feed one update; the text of the last message the bot sent in reply."""
        before = len(self.api.requests)
        await self.feed(update)
        replies = [r for r in self.api.requests[before:]
                   if r.method in ("sendMessage", "editMessageText")
                   and (chat_id is None or r.chat_id == chat_id)]
        return replies[-1].text if replies else ""

    def replies_since(self, index: int) -> list[Any]:
        return self.api.requests[index:]
