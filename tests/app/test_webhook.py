"""Webhook mode: the secret is mandatory and checked before any handler runs."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiogram import Bot, Dispatcher
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr
from sqlalchemy import func, select

import tests.support.updates as u
from bot.app.startup import StartupError
from bot.app.telegram import create_webhook_app, webhook_secret
from bot.config import Settings
from bot.db import Database
from bot.db.models import TelegramAccount
from tests.support.fake_bot_api import FakeBotAPI

SECRET = "s3cret-token_ok"
HEADER = "X-Telegram-Bot-Api-Secret-Token"


@pytest.fixture
def hook_settings(tg_settings: Settings) -> Settings:
    return tg_settings.replace(
        webhook_url="https://shop.example/telegram/webhook", webhook_secret=SecretStr(SECRET),
    )


@pytest.fixture
async def client(hook_settings: Settings, bot: Bot, dp: Dispatcher) -> AsyncIterator[TestClient]:
    app = create_webhook_app(hook_settings, bot, dp, handle_in_background=False)
    async with TestClient(TestServer(app)) as client:
        yield client


async def _accounts(db: Database) -> int:
    async with db.read_session() as session:
        return int(await session.scalar(select(func.count(TelegramAccount.id))) or 0)


@pytest.mark.parametrize("headers", [{}, {HEADER: "wrong"}, {HEADER: ""}])
async def test_wrong_or_missing_secret_is_refused(client, api: FakeBotAPI, db, headers) -> None:
    response = await client.post("/telegram/webhook", json=u.message(5001, "/help"),
                                 headers=headers)
    assert response.status == 401
    assert api.calls("sendMessage") == []
    assert await _accounts(db) == 0


async def test_right_secret_is_handled_and_a_retry_only_once(client, api, db) -> None:
    update = u.message(5001, "/help", language_code="en")
    for _ in range(2):  # Telegram retries when it did not get our 200 in time
        response = await client.post("/telegram/webhook", json=update, headers={HEADER: SECRET})
        assert response.status == 200
    assert len(api.calls("sendMessage")) == 1
    assert "/codes" in api.calls("sendMessage")[0].text


def test_webhook_without_a_secret_refuses_to_start(tg_settings: Settings) -> None:
    no_secret = tg_settings.replace(webhook_url="https://shop.example/hook")
    with pytest.raises(StartupError, match="PROMOBOT_WEBHOOK_SECRET"):
        webhook_secret(no_secret)
    bad = no_secret.replace(webhook_secret=SecretStr("has spaces"))
    with pytest.raises(StartupError):
        webhook_secret(bad)
