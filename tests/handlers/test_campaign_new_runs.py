"""Campaigns made in `/campaign new` as their readers get them: "once, now" sends at
once, each reader in their language (a Russian-only text never reaches English readers),
placeholders filled in; review, cart and comeback campaigns run with the offer they were
given, not the built-in job's."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from aiogram import Bot, Dispatcher

import tests.support.factories as factories
import tests.support.shop as shop
from bot.app.telegram import create_dispatcher
from bot.config import Settings
from bot.db import Database
from bot.db.models import CampaignStatus, Customer
from bot.delivery.sender import Sender
from bot.promo.campaigns.launcher import LAUNCHER
from bot.promo.campaigns.running import run_campaign, run_kind
from bot.promo.codes.offers import Item
from bot.promo.shop.carts import record_abandoned_cart
from bot.promo.shop.reviews import record_review
from bot.texts.notices import render_message
from tests.support.campaign_dialog import Dialog, only_campaign
from tests.support.fake_bot_api import FakeBotAPI

CHATS = 8_100_000


@pytest.fixture
def dp(tg_settings: Settings, db: Database, clock: Any) -> Dispatcher:
    return create_dispatcher(tg_settings, db, clock, throttle_burst=50)


async def _regulars(db: Database, clock: Any) -> tuple[int, int]:
    """Two regulars who agreed to promotions: Мария reads Russian, John English."""
    for number, (name, locale) in enumerate([("Мария", "ru"), ("John", "en")]):
        await factories.customers(db, 1, now=clock(), prefix=f"r{number}-", start=number,
                                  telegram_base=CHATS, name=name, locale=locale,
                                  orders_count=5, marketing_opt_in=True)
    return CHATS, CHATS + 1


async def _active_campaign(db: Database) -> int:
    """The campaign the dialog made, started (a draft runs nothing)."""
    campaign = await only_campaign(db)
    await shop.set_status(db, campaign.id, CampaignStatus.ACTIVE)
    return campaign.id


async def _send(db: Database, bot: Bot, settings: Settings, clock: Any) -> None:
    await Sender(db, bot, settings, clock=clock, render=render_message).run_until_idle()


async def test_once_now_sends_each_reader_their_language_with_their_name(
    dialog: Dialog, dp: Dispatcher, db, bot, api: FakeBotAPI, tg_settings, clock,
) -> None:
    ru_chat, en_chat = await _regulars(db, clock)
    await dialog.walk(offer="10% 14", variants=None, holdout="0%", schedule="Once, now",
                      ru="{name}, мы скучали! Ваш код {code}", en="-")
    assert "created" in await dialog.press("Create")
    await dp[LAUNCHER].join()  # "once, now" ran the campaign: no command-line step
    await _send(db, bot, tg_settings, clock)
    (ru,) = api.sent(ru_chat)
    (en,) = api.sent(en_chat)
    assert ru.text.startswith("Мария, мы скучали! Ваш код <code>")
    assert en.text.startswith("A personal code for you, as a thank-you for being our customer.")
    assert "скучали" not in en.text and "{" not in ru.text


async def test_review_campaign_pays_its_own_percent(dialog: Dialog, db, settings,
                                                    clock) -> None:
    """The built-in job pays 5 % for a review (the settings); this campaign says 7 %."""
    await dialog.walk(kind="Review reward", name="Reviews at 7", segment="No segment",
                      offer="7% 14", variants=None, holdout="0%", ru="-", en="-")
    await dialog.press("Create")
    campaign_id = await _active_campaign(db)
    now = clock()
    cid = (await factories.linked_customer(db, "anna", now=now)).id
    await shop.order(db, settings, "o1", cid, placed_at=now - timedelta(days=9), now=now)
    async with db.session() as session:
        await record_review(session, await session.get(Customer, cid), "o1", rating=5,
                            has_photo=False, now=now)
        await session.commit()
    result = await run_campaign(shop.context(db, settings, now), campaign_id)
    assert (result.issued, result.queued) == (1, 1), result.summary()
    (code,) = await shop.codes(db, source="review")
    assert (code.discount_value, code.valid_days, code.campaign_id) == (7, 14, campaign_id)


async def test_the_hourly_review_job_runs_the_managers_campaign(dialog: Dialog, db, settings,
                                                                clock) -> None:
    """Reviews written after the start are paid by the scheduled job with the campaign's
    7 %, and the built-in 5 % stands aside while it is active."""
    await dialog.walk(kind="Review reward", name="Reviews at 7", segment="No segment",
                      offer="7% 14", variants=None, holdout="0%", ru="-", en="-")
    await dialog.press("Create")
    campaign_id = await _active_campaign(db)
    now = clock()
    for name in ("anna", "boris"):
        cid = (await factories.linked_customer(db, name, now=now)).id
        await shop.order(db, settings, f"o-{name}", cid, placed_at=now - timedelta(days=9),
                         now=now)
        async with db.session() as session:
            await record_review(session, await session.get(Customer, cid), f"o-{name}",
                                rating=5, has_photo=False, now=now)
            await session.commit()
    result = await run_kind(shop.context(db, settings, now), "review")
    assert result.issued == 2, result.summary()
    codes = await shop.codes(db, source="review")
    assert {(c.discount_value, c.campaign_id) for c in codes} == {(7, campaign_id)}


async def test_cart_campaign_gives_its_own_offer(dialog: Dialog, db, settings,
                                                 clock) -> None:
    await dialog.walk(kind="Abandoned cart", name="-", segment="No segment", offer="12% 3",
                      variants=None, holdout="0%", ru="-", en="-")
    await dialog.press("Create")
    campaign_id = await _active_campaign(db)
    now = clock()
    cid = (await factories.linked_customer(db, "anna", now=now, marketing_opt_in=True)).id
    async with db.session() as session:
        await record_abandoned_cart(
            session, await session.get(Customer, cid), "cart-1", [Item("tea-1", 50_000)],
            now=now - timedelta(hours=settings.rewards.cart_delay_hours + 1))
        await session.commit()
    result = await run_campaign(shop.context(db, settings, now), campaign_id)
    assert result.issued == 1, result.summary()
    (code,) = await shop.codes(db, source="cart")
    assert (code.discount_value, code.valid_days, code.campaign_id) == (12, 3, campaign_id)
    assert code.include_skus == ["tea-1"]  # still only the cart's items


async def test_comeback_campaign_keeps_its_percent(dialog: Dialog, db, settings,
                                                   clock) -> None:
    """The ladder would give 10 % after 60 silent days; the campaign says 15 %."""
    await dialog.walk(kind="Comeback", name="-", segment="No segment", offer="15% 21",
                      variants=None, holdout="0%", ru="-", en="-")
    await dialog.press("Create")
    campaign_id = await _active_campaign(db)
    now = clock()
    await shop.silent_customer(db, settings, "anna", now, 65, marketing_opt_in=True)
    result = await run_campaign(shop.context(db, settings, now), campaign_id)
    assert result.issued == 1, result.summary()
    (code,) = await shop.codes(db, source="comeback")
    assert (code.discount_value, code.valid_days) == (15, 21)

