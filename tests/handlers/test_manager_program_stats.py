"""The shop-wide `/stats` with a global holdout (`PROMOBOT_GLOBAL_HOLDOUT`): the whole
program against it, through the dispatcher and the fake Bot API, each figure worked out
here by hand."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

import tests.support.factories as factories
import tests.support.updates as u
from bot.config import Settings
from bot.db.models import Order
from bot.promo.campaigns.global_holdout import is_member
from tests.support.chat import Chat
from tests.support.managers import ANALYST, UploadingBotAPI, add_staff
from tests.support.results import always_valid

PERCENT = 25


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.replace(global_holdout=PERCENT)


@pytest.fixture
async def api():
    async with UploadingBotAPI() as server:
        yield server


async def test_shop_wide_stats_measure_the_program_against_it(chat: Chat, db, clock,
                                                             api) -> None:
    """Everyone outside the holdout bought one 5 000 ₽ order in two; nobody in it did
    but every fourth: the report gives the counts and the uplift a hand can check."""
    await add_staff(db, ANALYST, "analyst")
    now = clock()
    customers = await factories.customers(db, 400, now=now - timedelta(days=60))
    held = [c for c in customers if is_member(c.id, PERCENT)]
    rest = [c for c in customers if not is_member(c.id, PERCENT)]
    buyers = held[::4] + rest[::2]
    async with db.session() as session:
        session.add_all(Order(external_id=f"o{c.id}", customer_id=c.id, status="paid",
                              total=500_000, currency="RUB", discount=0,
                              placed_at=now - timedelta(days=3)) for c in buyers)
        await session.commit()

    await chat.feed(u.message(ANALYST, "/stats", language_code="en"))

    text = api.calls("sendMessage")[-1].text
    section = next(b for b in text.split("\n\n") if "global holdout" in b)
    h, r = len(held), len(rest)
    hb, rb = len(held[::4]), len(rest[::2])
    assert "All promotions vs the global holdout (25% of customers never get them)" in section
    assert (f"global holdout: {h} customers, {round(hb / h * 100, 1):g}% bought; everyone "
            f"else: {r} customers, 50% bought") in section, section
    p1, p0 = rb / r, hb / h
    se = math.sqrt(p1 * (1 - p1) / r + p0 * (1 - p0) / h)
    half = always_valid(se, r + h)
    diff = p1 - p0
    assert (f"Repeat purchases vs control group: +{diff * 100:.1f} percentage points, 95% "
            f"interval {(diff - half) * 100:+.1f} to +{(diff + half) * 100:.1f}") in section
