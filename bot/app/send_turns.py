"""The bot's own requests take their slot from the send budget too: replies to commands,
the managers' progress edits, `/stats` charts and exports. They are replies (`reply=True`):
they go before a broadcast's next message. A 429 on one of them pauses the whole
deployment's sending, and the request is made once more after the pause.

The sender's sendMessage does not pass through here (`transport.send_text` posts it
itself); it takes its slots from the same budget in `Sender`.
"""

from __future__ import annotations

import logging
from typing import Any

from aiogram import Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType

from bot.cluster.send_budget import SendBudget

log = logging.getLogger(__name__)

# What Telegram counts as a message: the `send*`, `edit*`, `copy*` and `forward*`
# methods, except what shows in no chat. (An album or `copyMessages` is several messages
# and takes one slot: the bot sends none.)
_COUNTED_PREFIXES = ("send", "edit", "copy", "forward")
_NOT_COUNTED = frozenset({"sendChatAction"})


def counted(method: TelegramMethod[Any]) -> bool:
    name = method.__api_method__
    return name.startswith(_COUNTED_PREFIXES) and name not in _NOT_COUNTED


def chat_of(method: TelegramMethod[Any]) -> int | None:
    chat_id = getattr(method, "chat_id", None)
    return chat_id if isinstance(chat_id, int) else None


class SendTurns(BaseRequestMiddleware):
    def __init__(self, budget: SendBudget) -> None:
        self.budget = budget

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        if not counted(method):
            return await make_request(bot, method)
        chat_id = chat_of(method)
        await self.budget.turn(chat_id, reply=True)
        try:
            return await make_request(bot, method)
        except TelegramRetryAfter as error:
            log.warning("Telegram asked to wait %s s (%s); all sending paused",
                        error.retry_after, method.__api_method__)
            await self.budget.pause(error.retry_after)
            await self.budget.turn(chat_id, reply=True)
            return await make_request(bot, method)
