"""Expiry reminders and tier notices: once each."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

import tests.support.factories as factories
import tests.support.shop as shop
from bot.db.models import CodeSource, Customer, DiscountType
from bot.promo.campaigns.running import run_kind
from bot.promo.codes.issuing import issue_code
from bot.promo.codes.offers import Offer


async def test_one_reminder_the_day_before_a_code_expires(db, settings, clock):
    now = clock()
    cid = (await factories.linked_customer(db, "anna", now=now)).id
    out = (await factories.linked_customer(db, "out", now=now, marketing_opt_in=False)).id
    async with db.session() as session:
        for owner in (cid, out):
            await issue_code(session, Offer(DiscountType.PERCENT, 10), source=CodeSource.MANUAL,
                             now=now - timedelta(days=10), customer_id=owner,
                             expires_at=now + timedelta(hours=30))
        used = await issue_code(session, Offer(DiscountType.PERCENT, 10),
                                source=CodeSource.MANUAL, now=now - timedelta(days=10),
                                customer_id=cid, expires_at=now + timedelta(hours=30))
        used.used_count = 1
        await session.commit()

    assert (await run_kind(shop.context(db, settings, now), "reminders")).queued == 0
    day_before = now + timedelta(hours=8)
    result = await run_kind(shop.context(db, settings, day_before), "reminders")
    assert (result.queued, result.opted_out) == (1, 1)
    assert (await run_kind(shop.context(db, settings, day_before + timedelta(hours=3)),
                           "reminders")).queued == 0
    (reminder,) = await shop.deliveries(db, reason="expiry_reminder")
    assert reminder.customer_id == cid and reminder.code_id != used.id


async def test_tier_up_and_nudge_once_each(db, settings, clock):
    now = clock()
    cid = (await factories.linked_customer(db, "anna", now=now)).id
    # 4 700 ₽: 94 % of the first tier (5 000 ₽): a nudge.
    await shop.order(db, settings, "o1", cid, placed_at=now - timedelta(days=3), now=now,
                     total=470_000)
    ctx = shop.context(db, settings, now)
    result = await run_kind(ctx, "tiers")
    (nudge,) = await shop.deliveries(db, reason="tier_nudge")
    assert nudge.payload == {"tier": 1, "percent": 3, "free_shipping": False, "left": 30_000,
                             "basis": "spend", "currency": "RUB"}
    assert result.queued == 1
    assert (await run_kind(ctx, "tiers")).queued == 0

    later = now + timedelta(hours=1)
    await shop.order(db, settings, "o2", cid, placed_at=later, now=later, total=100_000)
    result = await run_kind(shop.context(db, settings, later), "tiers")
    (up,) = await shop.deliveries(db, reason="tier_up")
    assert up.payload == {"tier": 1, "percent": 3, "free_shipping": False}
    assert (await run_kind(shop.context(db, settings, later), "tiers")).queued == 0
    # Long-standing tiers are not news: a customer untouched for a week is not congratulated.
    old = (await factories.linked_customer(db, "old", now=now)).id
    async with db.session() as session:
        await session.execute(update(Customer).where(Customer.id == old).values(
            net_spend=2_500_000, updated_at=now - timedelta(days=7)))
        await session.commit()
    assert (await run_kind(shop.context(db, settings, later), "tiers")).queued == 0
