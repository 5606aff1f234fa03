"""Fixtures for the sender: the fake Bot API (with Telegram's limits) and a real Bot."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiogram import Bot

from bot.config import Settings
from tests.support.delivery import make_bot
from tests.support.limits import LimitedBotAPI


@pytest.fixture
async def api() -> AsyncIterator[LimitedBotAPI]:
    async with LimitedBotAPI() as server:
        yield server


@pytest.fixture
def dsettings(settings: Settings, api: LimitedBotAPI) -> Settings:
    """Fast settings: high rate, no caps or quiet hours unless a test sets them."""
    return settings.replace(
        telegram_api_url=api.url,
        send_rate=500.0,
        caps=[],
        min_gaps=[],
        quiet_hours="",
        send_poll_seconds=0.05,
        send_backoff_seconds=0.05,
        send_backoff_max_seconds=0.2,
        send_max_attempts=3,
        send_lease_seconds=10.0,
        send_timeout_seconds=1.0,
    )


@pytest.fixture
async def bot(dsettings: Settings) -> AsyncIterator[Bot]:
    bot = make_bot(dsettings)
    yield bot
    await bot.session.close()
