"""Filters shared by the routers."""

from __future__ import annotations

from typing import Any

from aiogram.filters import Filter
from aiogram.types import TelegramObject
from magic_filter import MagicFilter

from bot.db.models import Customer


class Linked(Filter):
    """The user's Telegram is linked to a shop customer."""

    async def __call__(self, event: TelegramObject, customer: Customer | None = None) -> bool:
        return customer is not None


class Magic(Filter):
    """An `F` expression checked right in the event loop.

    aiogram runs a bare `F` filter like any sync callable, through `asyncio.to_thread`:
    a thread hand-off for every update that reaches it (three on the way to `/codes`).
    Wrapped in this `Filter` it is awaited inline; the result is the same, `.as_()`
    included. `tests/telegram/test_dispatcher.py` keeps bare sync filters out.
    """

    def __init__(self, magic: MagicFilter) -> None:
        self.magic = magic

    async def __call__(self, event: TelegramObject) -> Any:
        return self.magic.resolve(event)
