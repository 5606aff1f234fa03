"""A rewarded action set in Telegram: a manager makes an "action" campaign in
`/campaign new` (the action's name and an offer); the shop's `POST /events/action` then
pays that offer instead of the settings', once per (customer, action, ref), counted in
the campaign, and the shopper hears of it in Telegram; paused, the settings' offer is
back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiogram import Bot, Dispatcher
from aiohttp.test_utils import TestClient, TestServer

from bot.api.app import create_app
from bot.app.telegram import create_dispatcher
from bot.config import Settings
from bot.db import Database
from bot.delivery.sender import Sender
from bot.texts.notices import render_message
from tests.support import factories, shop
from tests.support.api import Api
from tests.support.campaign_dialog import Dialog, campaigns, only_campaign
from tests.support.fake_bot_api import FakeBotAPI


@pytest.fixture
def dp(tg_settings: Settings, db: Database, clock: Any) -> Dispatcher:
    return create_dispatcher(tg_settings, db, clock, throttle_burst=50)


@pytest.fixture
async def shop_api(tg_settings: Settings, db: Database, clock: Any) -> AsyncIterator[Api]:
    async with TestClient(TestServer(create_app(tg_settings, db, clock=clock))) as client:
        yield Api(client)


async def _action_campaign(dialog: Dialog, action: str, offer: str) -> str:
    """The dialog from "/campaign new" to "Created"; the summary it showed."""
    assert "What kind" in await dialog.send("/campaign new")
    assert "Which action should be rewarded" in await dialog.press("Rewarded action")
    assert "The offer" in await dialog.send(action)
    assert "Create it?" in await dialog.send(offer)
    summary = dialog.texts(4)[0]
    assert "created" in await dialog.press("Create")
    return summary


async def test_an_action_set_in_the_bot_is_paid_with_its_offer(
    dialog: Dialog, dp: Dispatcher, db: Database, bot: Bot, api: FakeBotAPI, shop_api: Api,
    tg_settings: Settings, clock,
) -> None:
    customer = await factories.linked_customer(db, "c-1", now=clock())
    report = {"customer_id": "c-1", "action": "newsletter", "ref": "2026-06"}
    status, body, _ = await shop_api.post("/events/action", report)
    assert status == 422 and body["error"]["code"] == "unknown_action"  # not in the settings

    assert "What kind" in await dialog.send("/campaign new")
    await dialog.press("Rewarded action")
    assert "not an action's name" in await dialog.send("News letter!")
    await dialog.send("newsletter")
    assert "The offer" in await dialog.send("-")  # asked again
    assert "needs an offer" in dialog.texts(2)[0]
    assert "Create it?" in await dialog.send("7% 21")
    summary, sample_ru, sample_en, _create = dialog.texts(4)
    assert "Action: <code>newsletter</code>" in summary and "Kind: rewarded action" in summary
    assert sample_ru.startswith("🇷🇺\nСпасибо! Вот обещанный персональный код:")
    assert "Thank you! Here is the personal code we promised" in sample_en
    assert "created" in await dialog.press("Create")
    campaign = await only_campaign(db)
    assert (campaign.kind, campaign.status, campaign.params) == (
        "action", "active", {"action": "newsletter"})

    status, body, _ = await shop_api.post("/events/action", report)
    assert status == 201 and (body["value"], body["valid_days"]) == (7, 21), body
    status, again, _ = await shop_api.post("/events/action", report)
    assert status == 200 and again["code"] == body["code"]
    (code,) = await shop.codes(db, customer_id=customer.id)
    assert code.campaign_id == campaign.id  # counted in the campaign's results
    await Sender(db, bot, tg_settings, clock=clock, render=render_message).run_until_idle()
    (told,) = api.sent(factories.TELEGRAM_BASE + customer.id)
    assert told.text.startswith("Спасибо! Вот обещанный персональный код:")  # default ru
    assert body["code"] in told.text


async def test_a_campaign_takes_over_the_settings_until_paused(
    dialog: Dialog, dp: Dispatcher, db: Database, shop_api: Api, tg_settings: Settings, clock,
) -> None:
    """The settings pay 5 % for an app install; the manager's campaign says 9 %."""
    await factories.linked_customer(db, "c-1", now=clock())
    await _action_campaign(dialog, "app_install", "9% 10")
    assert await campaigns(db) == 1
    campaign = await only_campaign(db)

    async def install(ref: str) -> Any:
        status, body, _ = await shop_api.post(
            "/events/action", {"customer_id": "c-1", "action": "app_install", "ref": ref})
        assert status == 201, body
        return body

    assert (await install("phone"))["value"] == 9
    assert "paused" in await dialog.send(f"/campaign {campaign.id} pause")
    assert (await install("tablet"))["value"] == tg_settings.rewards.action_rewards[
        "app_install"].percent == 5
