"""Telegram fixtures, imported by the conftest of the folders that use them: the fake Bot
API server, a real `Bot` talking HTTP to it, and the real Dispatcher from `bot.app.telegram`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiogram import Bot, Dispatcher

from bot.app.telegram import create_bot, create_dispatcher
from bot.config import Settings
from bot.db import Database
from tests.support.chat import Chat
from tests.support.fake_bot_api import FakeBotAPI


@pytest.fixture
async def api() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI() as server:
        yield server


@pytest.fixture
def tg_settings(settings: Settings, api: FakeBotAPI) -> Settings:
    return settings.replace(telegram_api_url=api.url, bot_username="promobot")


@pytest.fixture
async def bot(tg_settings: Settings) -> AsyncIterator[Bot]:
    bot = create_bot(tg_settings)
    yield bot
    await bot.session.close()


@pytest.fixture
async def dp(tg_settings: Settings, db: Database, clock: Any) -> AsyncIterator[Dispatcher]:
    dispatcher = create_dispatcher(tg_settings, db, clock)
    yield dispatcher
    # What handlers left in the background (campaign runs, progress messages) ends here,
    # before the database goes.
    await dispatcher.emit_shutdown()


@pytest.fixture
def chat(dp: Dispatcher, bot: Bot, api: FakeBotAPI) -> Chat:
    return Chat(dp, bot, api)
