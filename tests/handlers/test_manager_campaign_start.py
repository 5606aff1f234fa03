"""Start means send: a campaign created as the dialog leaves it (a draft, no schedule) and
started from its card reaches its audience with no command-line step; pause holds its
messages, resume sends them, stop cancels them and gives the codes back, and starting it
twice (or a scheduled run at the same moment) sends nothing twice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiogram import Bot, Dispatcher
from sqlalchemy import func, select

import tests.support.updates as u
from bot.config import Settings
from bot.db import Database
from bot.db.models import PromoCode
from bot.promo.campaigns import running
from bot.promo.campaigns.context import Context
from bot.promo.campaigns.launcher import LAUNCHER, Launcher
from handlers.managers.progress import KEY, LiveProgress
from scheduler.jobs import Jobs
from tests.support.campaign_runs import Reached, Shop, deliver, deliveries, draft_broadcast, reached
from tests.support.chat import Chat
from tests.support.delivery import eventually
from tests.support.fake_bot_api import FakeBotAPI
from tests.support.managers import MANAGER, add_staff, audit_rows


@pytest.fixture
async def live(dp: Dispatcher, db: Database, tg_settings: Settings, clock) -> AsyncIterator[None]:
    """Progress messages that poll at once; everything in the background ends with the test."""
    dp[KEY] = LiveProgress(db, tg_settings, clock, interval=0.01, min_gap=0)
    yield
    await dp.emit_shutdown()


def launcher(dp: Dispatcher) -> Launcher:
    return dp[LAUNCHER]


def button(api: FakeBotAPI, label: str) -> str:
    """The callback data of the last card's button whose text contains `label`."""
    card = next(r for r in reversed(api.calls(chat_id=MANAGER)) if r.reply_markup)
    rows = card.reply_markup["inline_keyboard"]
    return next(b["callback_data"] for row in rows for b in row if label in b["text"])


async def press(chat: Chat, shop: Shop, label: str) -> None:
    """Open the campaign's card and press one of its buttons, as a manager would."""
    await chat.send(u.message(MANAGER, f"/campaign {shop.campaign_id}", language_code="en"))
    await chat.feed(u.callback(MANAGER, button(chat.api, label), language_code="en"))


def everyone_once(seen: Reached, shoppers: int) -> set[int]:
    """Every shopper chosen; each treated one got exactly one message, with their code;
    the control group nothing. The treated customers."""
    assert len(seen.assigned) == shoppers
    treated = {customer for customer, holdout in seen.assigned.items() if not holdout}
    assert treated and set(seen.messages) == treated
    for customer in treated:
        [text] = seen.messages[customer]
        [code] = seen.codes[customer]
        assert code in text and "Spring!" in text
    return treated


async def test_the_start_button_sends_to_the_audience(
    chat: Chat, dp: Dispatcher, db: Database, clock, api: FakeBotAPI, bot: Bot,
    tg_settings: Settings, live: None,
) -> None:
    await add_staff(db, MANAGER, "manager")
    shop = await draft_broadcast(db, clock())
    await press(chat, shop, "Start")
    await launcher(dp).join()
    assert await deliveries(db, shop.campaign_id)  # queued with no command-line step
    await deliver(db, bot, tg_settings, clock)
    treated = everyone_once(await reached(db, api, shop), 8)
    held_out = 8 - len(treated)
    assert held_out  # the control group got nothing (`everyone_once`)
    # The live message counted the real numbers, then said how it ended.
    await eventually(lambda: not dp[KEY].tasks, 5)
    progress = [r for r in api.calls(chat_id=MANAGER)
                if r.text.startswith(("📤", "✅"))]
    assert progress[0].method == "sendMessage"
    assert progress[-1].text == (
        f"✅ Campaign #{shop.campaign_id} done: {len(treated)} sent, 0 failed\n"
        f"👥 Chosen: 8, of them {held_out} in the control group (they get no message)")


async def test_pause_holds_and_resume_sends(
    chat: Chat, dp: Dispatcher, db: Database, clock, api: FakeBotAPI, bot: Bot,
    tg_settings: Settings, live: None,
) -> None:
    await add_staff(db, MANAGER, "manager")
    shop = await draft_broadcast(db, clock())
    await chat.send(u.message(MANAGER, f"/campaign {shop.campaign_id} start",
                              language_code="en"))
    await launcher(dp).join()
    reply = await chat.send(u.message(MANAGER, f"/campaign {shop.campaign_id} pause",
                                      language_code="en"))
    assert "paused" in reply
    await deliver(db, bot, tg_settings, clock)
    assert (await reached(db, api, shop)).messages == {}
    assert set(await deliveries(db, shop.campaign_id)) == {"pending"}

    await press(chat, shop, "Resume")
    await launcher(dp).join()
    await deliver(db, bot, tg_settings, clock)
    everyone_once(await reached(db, api, shop), 8)
    assert [r.action for r in await audit_rows(db)] == [
        "campaign.start", "campaign.pause", "campaign.resume"]


async def test_stop_cancels_and_gives_the_codes_back(
    chat: Chat, dp: Dispatcher, db: Database, clock, api: FakeBotAPI, bot: Bot,
    tg_settings: Settings, live: None,
) -> None:
    await add_staff(db, MANAGER, "manager")
    shop = await draft_broadcast(db, clock())
    await press(chat, shop, "Start")
    await launcher(dp).join()
    queued = (await deliveries(db, shop.campaign_id))["pending"]
    await press(chat, shop, "Stop")
    await deliver(db, bot, tg_settings, clock)
    seen = await reached(db, api, shop)
    assert seen.messages == {} and seen.codes == {}
    assert await deliveries(db, shop.campaign_id) == {"cancelled": queued}
    async with db.read_session() as session:
        revoked = await session.scalar(select(func.count()).select_from(PromoCode).where(
            PromoCode.campaign_id == shop.campaign_id, PromoCode.status == "revoked"))
    assert revoked == queued
    assert (await audit_rows(db))[-1].after == {"status": "stopped", "messages": queued}


async def test_two_starts_and_a_scheduled_run_send_once(
    chat: Chat, dp: Dispatcher, db: Database, clock, api: FakeBotAPI, bot: Bot,
    tg_settings: Settings, live: None,
) -> None:
    await add_staff(db, MANAGER, "manager")
    shop = await draft_broadcast(db, clock(), shoppers=12)
    await chat.send(u.message(MANAGER, f"/campaign {shop.campaign_id} start",
                              language_code="en"))
    # At the same moment: the card's button pressed again, the campaign's schedule,
    # `promobot campaign run`, and the launcher asked once more.
    again = await chat.send(u.message(MANAGER, f"/campaign {shop.campaign_id} start",
                                      language_code="en"))
    assert "is not possible" in again
    launcher(dp).launch(shop.campaign_id)
    ctx = Context(db, tg_settings, clock(), batch_size=3)
    results = await asyncio.gather(
        Jobs(db, tg_settings, clock).run_campaign(shop.campaign_id),
        running.run_campaign(ctx, shop.campaign_id),
        launcher(dp).join(),
    )
    await launcher(dp).join()
    assert sum(r.assigned for r in results[:2]) <= 12
    await deliver(db, bot, tg_settings, clock)
    treated = everyone_once(await reached(db, api, shop), 12)
    assert sum((await deliveries(db, shop.campaign_id)).values()) == len(treated)
