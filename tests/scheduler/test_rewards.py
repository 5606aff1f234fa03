"""Review asks and rewards, referral rewards, abandoned carts."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

import tests.support.factories as factories
import tests.support.shop as shop
from bot.db.models import AbandonedCart, Customer, Referral, ReferralStatus, Review
from bot.promo.campaigns.running import run_kind
from bot.promo.codes.offers import Item
from bot.promo.customers.accounts import record_referral
from bot.promo.shop.carts import record_abandoned_cart
from bot.promo.shop.reviews import record_review


async def _review(db, customer_id, order_ref, now, *, photo=False):
    async with db.session() as session:
        customer = await session.get(Customer, customer_id)
        await record_review(session, customer, order_ref, rating=5, has_photo=photo, now=now)
        await session.commit()


async def test_review_ask_once_per_delivered_order(db, settings, clock):
    now = clock()
    cid = (await factories.linked_customer(db, "anna", now=now)).id
    await shop.order(db, settings, "o1", cid, placed_at=now - timedelta(days=6), now=now,
                     delivered_at=now - timedelta(days=4))
    await shop.order(db, settings, "o2", cid, placed_at=now - timedelta(days=6), now=now,
                     delivered_at=now - timedelta(days=4))
    await shop.order(db, settings, "o3", cid, placed_at=now - timedelta(days=2), now=now,
                     delivered_at=now - timedelta(days=1))
    await _review(db, cid, "o2", now)  # reviewed already: not asked

    ctx = shop.context(db, settings, now)
    assert (await run_kind(ctx, "review")).queued == 2  # o1's ask, o2's reward
    assert (await run_kind(ctx, "review")).queued == 0
    (ask,) = await shop.deliveries(db, reason="review_ask")
    assert ask.payload["order"] == "o1" and ask.code_id is None


async def test_review_reward_bigger_with_photo_once_never_for_returned(db, settings, clock):
    now = clock()
    cid = (await factories.linked_customer(db, "anna", now=now)).id
    for ref in ("plain", "photo", "returned"):
        await shop.order(db, settings, ref, cid, placed_at=now - timedelta(days=9), now=now)
    await _review(db, cid, "plain", now)
    await _review(db, cid, "photo", now, photo=True)
    await _review(db, cid, "returned", now)
    await shop.order(db, settings, "returned", cid, placed_at=now - timedelta(days=9),
                     now=now, status="returned")

    ctx = shop.context(db, settings, now)
    result = await run_kind(ctx, "review")
    assert (result.issued, result.queued) == (2, 2)
    assert (await run_kind(ctx, "review")).issued == 0
    codes = await shop.codes(db, source="review")
    assert sorted(c.discount_value for c in codes) == [5, 10]
    async with db.read_session() as session:
        rewarded = dict((await session.execute(
            select(Review.has_photo, Review.reward_code_id)
            .where(Review.reward_code_id.is_not(None)))).all())
    assert {c.id for c in codes} == set(rewarded.values())
    assert all(not d.promotional for d in await shop.deliveries(db, reason="review_reward"))
    # The reward is earned by its order: returning it later revokes the code.
    await shop.order(db, settings, "photo", cid, placed_at=now - timedelta(days=9), now=now,
                     status="returned")
    assert {c.status for c in await shop.codes(db, source="review")} == {"active", "revoked"}


async def test_review_reward_waits_for_the_delay(db, settings, clock):
    now = clock()
    slow = settings.replace(review_reward_delay_hours=24)
    cid = (await factories.linked_customer(db, "anna", now=now)).id
    await shop.order(db, slow, "o1", cid, placed_at=now - timedelta(days=9), now=now)
    await _review(db, cid, "o1", now)
    assert (await run_kind(shop.context(db, slow, now + timedelta(hours=23)), "review")
            ).issued == 0
    assert (await run_kind(shop.context(db, slow, now + timedelta(hours=25)), "review")
            ).issued == 1


async def test_review_reward_waits_for_the_order_to_be_delivered(db, settings, clock):
    """A review of an order still on its way earns nothing yet (it may be returned
    unopened); once the shop says it was delivered, the next run pays it (issue 11)."""
    now = clock()
    cid = (await factories.linked_customer(db, "anna", now=now)).id
    await shop.order(db, settings, "o1", cid, placed_at=now - timedelta(days=3), now=now,
                     status="paid")
    await _review(db, cid, "o1", now)
    ctx = shop.context(db, settings, now)
    assert (await run_kind(ctx, "review")).issued == 0
    await shop.order(db, settings, "o1", cid, placed_at=now - timedelta(days=3), now=now,
                     status="delivered", delivered_at=now)
    assert (await run_kind(ctx, "review")).issued == 1


async def _referral(db, settings, now, referrer_id, name, *, delivered_days_ago):
    friend = (await factories.linked_customer(db, name, now=now)).id
    async with db.session() as session:
        await record_referral(session, referrer_id, await session.get(Customer, friend), now)
        await session.commit()
    delivered = now - timedelta(days=delivered_days_ago)
    await shop.order(db, settings, f"{name}-first", friend, placed_at=delivered - timedelta(
        days=2), now=now, delivered_at=delivered)
    return friend


async def test_referral_pays_after_the_return_window_capped_per_month(db, settings, clock):
    now = clock()  # 1 June
    capped = settings.replace(referral_monthly_cap=2)
    referrer = (await factories.linked_customer(db, "host", now=now)).id
    early = await _referral(db, capped, now, referrer, "early", delivered_days_ago=5)
    friends = [await _referral(db, capped, now, referrer, f"f{i}", delivered_days_ago=20)
               for i in range(3)]
    returned = await _referral(db, capped, now, referrer, "ret", delivered_days_ago=20)
    await shop.order(db, capped, "ret-first", returned, placed_at=now - timedelta(days=22),
                     now=now, status="returned")

    result = await run_kind(shop.context(db, capped, now), "referral")

    codes = await shop.codes(db, source="referral")
    owners = [c.customer_id for c in codes]
    assert sorted(owners) == sorted([*friends, referrer, referrer])  # cap 2 for the host
    assert early not in owners and returned not in owners
    assert result.held == 1
    async with db.read_session() as session:
        statuses = dict((await session.execute(
            select(Referral.referee_id, Referral.status))).all())
    assert statuses[early] == ReferralStatus.PENDING
    assert statuses[returned] == ReferralStatus.REJECTED
    assert sorted(statuses[f] for f in friends) == ["qualified", "rewarded", "rewarded"]

    again = await run_kind(shop.context(db, capped, now + timedelta(hours=1)), "referral")
    assert again.issued == 0
    # Next month the held one is paid; the early friend passes the window too.
    july = now + timedelta(days=30)
    await run_kind(shop.context(db, capped, july), "referral")
    owners = [c.customer_id for c in await shop.codes(db, source="referral")]
    assert owners.count(referrer) == 4 and early in owners
    keys = [d.dedupe_key for d in await shop.deliveries(db, reason="referral_reward")]
    assert len(keys) == len(set(keys)) == len(owners)


async def test_referral_waits_for_delivery_then_the_return_window_from_it(db, settings, clock):
    """A first order placed long ago but not delivered pays nothing (it may still come
    back); once delivered, the window counts from the delivery, not from the order."""
    now = clock()
    referrer = (await factories.linked_customer(db, "host", now=now)).id
    friend = (await factories.linked_customer(db, "friend", now=now)).id
    async with db.session() as session:
        await record_referral(session, referrer, await session.get(Customer, friend), now)
        await session.commit()
    placed = now - timedelta(days=40)
    await shop.order(db, settings, "first", friend, placed_at=placed, now=now, status="paid")
    assert (await run_kind(shop.context(db, settings, now), "referral")).issued == 0

    await shop.order(db, settings, "first", friend, placed_at=placed, now=now, delivered_at=now)
    window = timedelta(days=settings.shop.return_window_days)
    inside = now + window - timedelta(hours=1)
    assert (await run_kind(shop.context(db, settings, inside), "referral")).issued == 0
    assert await shop.codes(db, source="referral") == []
    paid = await run_kind(shop.context(db, settings, now + window), "referral")
    assert paid.issued == 2
    assert sorted(c.customer_id for c in await shop.codes(db, source="referral")) == sorted(
        [referrer, friend])


async def test_referrer_at_the_lifetime_cap_is_not_paid_any_more(db, settings, clock):
    """Besides the monthly cap: two rewards in all, so the third friend is paid and the
    referrer is not, this month or any other; the referral says so and is not retried."""
    now = clock()
    capped = settings.replace(referral_monthly_cap=5, referral_lifetime_cap=2)
    referrer = (await factories.linked_customer(db, "host", now=now)).id
    friends = [await _referral(db, capped, now, referrer, f"f{i}", delivered_days_ago=20)
               for i in range(3)]

    result = await run_kind(shop.context(db, capped, now), "referral")
    owners = [c.customer_id for c in await shop.codes(db, source="referral")]
    assert sorted(owners) == sorted([*friends, referrer, referrer])
    assert result.held == 1
    async with db.read_session() as session:
        statuses = sorted((await session.scalars(select(Referral.status))).all())
    assert statuses == [ReferralStatus.CAPPED, ReferralStatus.REWARDED, ReferralStatus.REWARDED]

    later = await run_kind(shop.context(db, capped, now + timedelta(days=40)), "referral")
    assert (later.issued, later.held, later.audience) == (0, 0, 0)
    assert len(await shop.codes(db, source="referral")) == 5


async def test_abandoned_cart_code_after_delay_for_those_items_once(db, settings, clock):
    now = clock()
    cid = (await factories.linked_customer(db, "anna", now=now)).id
    bought = (await factories.linked_customer(db, "bought", now=now)).id
    async with db.session() as session:
        for owner, cart in ((cid, "cart-1"), (bought, "cart-2")):
            await record_abandoned_cart(
                session, await session.get(Customer, owner), cart,
                [Item("sku-a", 100_000, 1, "tea"), Item("sku-b", 50_000, 2, "cups")], now=now)
        await session.commit()
    await shop.order(db, settings, "after-cart", bought, placed_at=now + timedelta(hours=1),
                     now=now + timedelta(hours=1))

    assert (await run_kind(shop.context(db, settings, now + timedelta(hours=2)), "cart")
            ).issued == 0
    later = now + timedelta(hours=4)
    result = await run_kind(shop.context(db, settings, later), "cart")
    assert (result.issued, result.queued, result.held) == (1, 1, 1)
    (code,) = await shop.codes(db, source="cart")
    assert code.customer_id == cid and sorted(code.include_skus) == ["sku-a", "sku-b"]
    assert code.discount_value == 5
    assert (await run_kind(shop.context(db, settings, later), "cart")).issued == 0
    async with db.read_session() as session:
        handled = list(await session.scalars(select(AbandonedCart.handled_at)))
    assert all(handled)


async def test_old_carts_are_left_alone(db, settings, clock):
    now = clock()
    cid = (await factories.linked_customer(db, "anna", now=now)).id
    async with db.session() as session:
        await record_abandoned_cart(session, await session.get(Customer, cid), "old",
                                    [Item("sku-a", 100_000)], now=now - timedelta(days=5))
        await session.execute(update(AbandonedCart).values(created_at=now - timedelta(days=5)))
        await session.commit()
    assert (await run_kind(shop.context(db, settings, now), "cart")).audience == 0
