"""The bot's replies take their slots from the same send budget as the sender's
broadcast, and go first: a broadcast at the limit plus shoppers typing commands stays
within Telegram's limit, and every shopper is answered."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiogram import Bot

import tests.support.updates as u
from bot.app.send_turns import SendTurns
from bot.app.telegram import create_dispatcher
from bot.clock import utcnow
from bot.cluster.send_budget import MemoryBudget
from bot.config import Settings
from bot.db import Database
from bot.delivery.sender import Sender
from bot.texts.notices import render_message
from tests.support.delivery import deliver_all, queue, shoppers
from tests.support.limits import LimitedBotAPI

TYPING = 9_000_000  # the chats of the shoppers who type commands meanwhile


@pytest.fixture
async def api() -> AsyncIterator[LimitedBotAPI]:
    """Telegram's limits enforced, on a loop of its own: its clock is the wire's, not
    this busy test's."""
    async with LimitedBotAPI(threaded=True, enforce=True, overall=30) as server:
        yield server


async def test_a_broadcast_at_the_limit_and_twenty_commands(
    db: Database, api: LimitedBotAPI, bot: Bot, dsettings: Settings, clock
) -> None:
    settings = dsettings.replace(send_rate=30.0)
    budget = MemoryBudget(30.0)
    bot.session.middleware(SendTurns(budget))
    dp = create_dispatcher(settings, db, clock)
    people = await shoppers(db, 60)
    await queue(db, people, now=utcnow())
    sender = Sender(db, bot, settings, render=render_message, budget=budget)

    async def shoppers_type() -> None:
        await asyncio.sleep(0.5)  # the broadcast is at full speed
        await asyncio.gather(*(
            dp.feed_raw_update(bot, u.message(TYPING + n, "/codes", language_code="en"))
            for n in range(20)
        ))

    try:
        await asyncio.gather(deliver_all(sender, db), shoppers_type())
    finally:
        await dp.emit_shutdown()
    assert api.violations == []
    answered = {r.chat_id for r in api.calls("sendMessage") if r.chat_id >= TYPING}
    assert answered == {TYPING + n for n in range(20)}
    assert len(api.delivered()) == 80
