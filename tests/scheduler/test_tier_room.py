"""Campaigns and rewards weigh each customer's tier (issue 11): a customer whose tier
leaves the offer no room under the stacking policy gets no code and no message, is counted
as `no_room`, and the run goes on for everyone else. Tiers come from the rows the run
loads (net spend), no query per customer."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

import tests.support.factories as factories
import tests.support.shop as shop
from bot.db.models import Customer, Review
from bot.promo.campaigns.running import run_kind
from bot.promo.codes.offers import Item
from bot.promo.shop.carts import record_abandoned_cart
from bot.promo.shop.reviews import record_review

TOP = 10_000_000  # net spend for 12 % + free shipping
LOW = 500_000  # 3 %


async def vip(db, settings, name, now, days, spend=TOP):
    """A silent customer whose net spend puts them on a tier."""
    cid = await shop.silent_customer(db, settings, name, now, days)
    async with db.session() as session:
        (await session.get(Customer, cid)).net_spend = spend
        await session.commit()
    return cid


@pytest.mark.parametrize("stacking", ["exclusive", "additive"])
async def test_comeback_skips_a_customer_whose_tier_leaves_no_room(db, settings, clock, stacking):
    """The 60-day step gives 10 %. Exclusive: the top tier's 12 % + free shipping already
    beats it. Additive: 12 % + 10 % + shipping is above the 18 % ceiling; 3 % + 10 % fits."""
    settings = settings.replace(stacking=stacking)
    now = clock()
    plain = await shop.silent_customer(db, settings, "anna", now, 65)
    low = await vip(db, settings, "low", now, 65, spend=LOW)
    top = await vip(db, settings, "top", now, 65)

    ctx = shop.context(db, settings, now)
    result = await run_kind(ctx, "comeback")

    assert result.status == "done"
    assert (result.issued, result.queued, result.no_room) == (2, 2, 1)
    assert {c.customer_id for c in await shop.codes(db)} == {plain, low}
    assert top not in {d.customer_id for d in await shop.deliveries(db)}
    # Counted once: the next run does not weigh the same silence again.
    assert (await run_kind(ctx, "comeback")).no_room == 0


async def test_exclusive_skips_a_tier_at_least_as_large_as_the_offer(db, settings, clock):
    now = clock()
    await vip(db, settings, "eight", now, 65, spend=5_000_000)  # 8 % < 10 %: gets it
    await vip(db, settings, "top", now, 65)
    result = await run_kind(shop.context(db, settings, now), "comeback")
    assert (result.issued, result.no_room) == (1, 1)
    assert "no_room 1" in result.summary()


async def test_review_reward_waits_while_the_tier_leaves_no_room(db, settings, clock):
    now = clock()
    cid = await vip(db, settings, "top", now, 9)
    async with db.session() as session:
        customer = await session.get(Customer, cid)
        await record_review(session, customer, "top-o0", rating=5, has_photo=False, now=now)
        await session.commit()

    ctx = shop.context(db, settings, now)
    result = await run_kind(ctx, "review")
    assert (result.issued, result.no_room) == (0, 1)
    assert await shop.codes(db) == []
    async with db.read_session() as session:
        (unpaid,) = (await session.execute(select(Review.reward_code_id))).one()
    assert unpaid is None
    # A return lowers the tier: the review is paid then.
    async with db.session() as session:
        (await session.get(Customer, cid)).net_spend = LOW
        await session.commit()
    assert (await run_kind(ctx, "review")).issued == 1


async def test_abandoned_cart_skips_a_customer_whose_tier_leaves_no_room(db, settings, clock):
    now = clock()
    plain = (await factories.linked_customer(db, "anna", now=now)).id
    top = (await factories.linked_customer(db, "top", now=now, net_spend=TOP)).id
    async with db.session() as session:
        for owner in (plain, top):
            await record_abandoned_cart(
                session,
                await session.get(Customer, owner),
                f"cart-{owner}",
                [Item("sku-a", 100_000)],
                now=now,
            )
        await session.commit()

    result = await run_kind(shop.context(db, settings, now + timedelta(hours=4)), "cart")
    assert (result.issued, result.no_room) == (1, 1)
    assert [c.customer_id for c in await shop.codes(db, source="cart")] == [plain]
