"""Filters shared by the shopper routers."""

from __future__ import annotations

from aiogram.filters import Filter
from aiogram.types import TelegramObject

from bot.db.models import Customer


class Linked(Filter):
    """The user's Telegram is linked to a shop customer."""

    async def __call__(self, event: TelegramObject, customer: Customer | None = None) -> bool:
        return customer is not None
