"""Fixtures for the shop API tests: the real app on a test server, on the `db` fixture;
a fake Bot API and a bot on it for the tests that follow a message to the shopper."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiogram import Bot
from aiohttp.test_utils import TestClient, TestServer

from bot.api.app import create_app
from bot.app.telegram import create_bot
from bot.config import Settings
from bot.db import Database
from tests.support.api import Api
from tests.support.fake_bot_api import FakeBotAPI


@pytest.fixture
def make_api(settings: Settings, db: Database, clock: Any) -> Callable[..., Any]:
    """`async with make_api(**setting_overrides) as api:` for tests that need other settings."""

    @asynccontextmanager
    async def make(**overrides: Any) -> AsyncIterator[Api]:
        app_settings = settings.replace(**overrides) if overrides else settings
        async with TestClient(TestServer(create_app(app_settings, db, clock=clock))) as client:
            yield Api(client)

    return make


@pytest.fixture
async def api(make_api: Callable[..., Any]) -> AsyncIterator[Api]:
    async with make_api() as client:
        yield client


@pytest.fixture
async def telegram() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI() as server:
        yield server


@pytest.fixture
async def bot(settings: Settings, telegram: FakeBotAPI) -> AsyncIterator[Bot]:
    bot = create_bot(settings.replace(telegram_api_url=telegram.url))
    yield bot
    await bot.session.close()
