"""The "try a new category" campaign from Telegram: made in `/campaign new` (a segment is
required, so is an offer), previewed with the categories it would suggest, sent through
the outbox to the fake Bot API with each reader's category named in their language, run
twice and sent once, and read in `/stats`."""

from __future__ import annotations

from typing import Any

import pytest
from aiogram import Bot, Dispatcher

from bot.app.telegram import create_dispatcher
from bot.config import Settings
from bot.db import Database
from bot.delivery.sender import Sender
from bot.promo.campaigns.launcher import LAUNCHER
from bot.promo.campaigns.running import run_campaign
from bot.texts.notices import render_message
from tests.support import shop
from tests.support.campaign_dialog import Dialog, only_campaign
from tests.support.categories import seed
from tests.support.fake_bot_api import FakeBotAPI


@pytest.fixture
def dp(tg_settings: Settings, db: Database, clock: Any) -> Dispatcher:
    return create_dispatcher(tg_settings, db, clock, throttle_burst=50)


async def _send(db: Database, bot: Bot, settings: Settings, clock: Any) -> None:
    await Sender(db, bot, settings, clock=clock, render=render_message).run_until_idle()


async def test_made_in_the_dialog_it_sends_each_reader_their_category(
    dialog: Dialog, dp: Dispatcher, db, bot, api: FakeBotAPI, tg_settings, clock,
) -> None:
    seeded = await seed(db, tg_settings, clock(), russian=("vera",))
    reply = await dialog.walk(kind="Try a new category", name="Something new",
                              segment="Almost lost", offer="15% 14", variants=None,
                              holdout="0%", schedule="Once, now", ru="-", en="-")
    assert "Create it?" in reply
    summary, sample_ru, sample_en, _create = dialog.texts(4)
    assert "Kind: try a new category" in summary
    assert "Попробуйте «<b>Чай</b>» — 15\xa0% на первую покупку в этой категории" in sample_ru
    assert "Try <b>Tea</b>: 15% off your first purchase in this category" in sample_en
    assert "created" in await dialog.press("Create")
    await dp[LAUNCHER].join()  # "once, now" ran it
    await _send(db, bot, tg_settings, clock)
    (anna,) = api.sent(seeded.chats["anna"])
    assert anna.text.startswith("Thank you for shopping with us! Try <b>coffee</b>: 15% off "
                                "your first purchase in this category"), anna.text
    (vera,) = api.sent(seeded.chats["vera"])
    assert vera.text.startswith("Спасибо, что выбираете нас! Попробуйте «<b>coffee</b>» — "
                                "15\xa0% на первую покупку в этой категории"), vera.text
    (boris,) = api.sent(seeded.chats["boris"])
    assert "<b>cups</b>" in boris.text
    assert api.sent(seeded.chats["gleb"]) == []  # nothing to suggest to him
    campaign = await only_campaign(db)
    assert (campaign.kind, campaign.segment) == ("new_category", "almost_lost")
    # The scheduled run comes again: nobody hears twice.
    again = await run_campaign(shop.context(db, tg_settings, clock()), campaign.id)
    assert (again.issued, again.queued) == (0, 0), again.summary()
    await _send(db, bot, tg_settings, clock)
    assert len(api.sent(seeded.chats["anna"])) == 1
    await dialog.send(f"/stats {campaign.id}")
    stats = api.calls("sendMessage", chat_id=dialog.user)[-1].text
    assert "Something new" in stats and "audience 7, reached 7" in stats, stats
    assert api.requests[-1].method == "sendPhoto"  # and its chart


async def test_it_needs_a_segment_and_an_offer(dialog: Dialog, db) -> None:
    assert "What kind" in await dialog.send("/campaign new")
    await dialog.press("Try a new category")
    await dialog.send("Something new")
    keyboard = dialog.api.sent(dialog.user)[-1].reply_markup
    labels = [key["text"] for row in keyboard["inline_keyboard"] for key in row]
    assert "Almost lost" in labels and not any("No segment" in label for label in labels)
    assert "limited to the category chosen for them" in await dialog.press("Almost lost")
    # A message without a code: refused, and the offer is asked again.
    assert "limited to the category chosen for them" in await dialog.send("-")
    assert "needs an offer" in dialog.texts(2)[0]
    assert "Variants" in await dialog.send("10% 30")


async def test_preview_names_the_categories_it_would_suggest(dialog: Dialog, db, tg_settings,
                                                            clock) -> None:
    await seed(db, tg_settings, clock())
    await dialog.walk(kind="Try a new category", name="Something new", segment="Almost lost",
                      offer="10% 14", variants=None, holdout="0%", ru="-", en="-")
    await dialog.press("Create")
    campaign = await only_campaign(db)
    text = await dialog.send(f"/preview {campaign.id}")
    assert ("Categories to suggest (reachable customers):\n• coffee: 3\n• cups: 3\n"
            "• tea: 1\nNothing to suggest (skipped): 1") in text, text
