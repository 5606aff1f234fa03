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
from bot.promo.customers.accounts import Who, link, touch


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
    cid = (await factories.linked_customer(db, "anna", now=now - timedelta(days=5))).id
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


async def _link_now(db, customer_id: int, telegram_id: int, now) -> None:
    """The shopper opens their link token now."""
    async with db.session() as session:
        await touch(session, Who(id=telegram_id, chat_id=telegram_id, username=None,
                                 first_name=None, language_code="ru"), now)
        await link(session, customer_id, telegram_id, now)
        await session.commit()


async def test_an_imported_history_is_not_news(db, settings, clock):
    """The shop imports years of orders on the first day: nobody is congratulated on a
    tier, or nudged towards one, for what they bought before they linked Telegram; the
    first order after linking that carries them over a line is news."""
    now = clock()
    year_ago = now - timedelta(days=365)
    # Linked a month ago, before the shop imported its history.
    early = (await factories.linked_customer(db, "early", now=now - timedelta(days=30))).id
    late = (await factories.customer(db, "late", now=now)).id
    near = (await factories.customer(db, "near", now=now)).id
    for name, cid, total in (("early", early, 600_000), ("late", late, 2_500_000),
                             ("near", near, 470_000)):
        await shop.order(db, settings, f"{name}-old", cid, placed_at=year_ago, now=now,
                         total=total)
    await _link_now(db, late, 9_001, now)
    await _link_now(db, near, 9_002, now)

    assert (await run_kind(shop.context(db, settings, now), "tiers")).queued == 0
    assert await shop.deliveries(db) == []

    later = now + timedelta(hours=2)
    # `early` stays in tier 1 (reached a year ago); `near` reaches it now.
    await shop.order(db, settings, "early-new", early, placed_at=later, now=later,
                     total=100_000)
    await shop.order(db, settings, "near-new", near, placed_at=later, now=later, total=50_000)
    result = await run_kind(shop.context(db, settings, later), "tiers")
    (up,) = await shop.deliveries(db)
    assert (up.reason, up.customer_id, up.payload["tier"]) == ("tier_up", near, 1)
    assert result.queued == 1


async def test_order_count_tiers_count_only_orders_since_linking(db, settings, clock):
    """On the order-count ladder (3 orders → 5 %), two old orders and one after linking
    reach the tier by an order after linking: news; three old ones are not."""
    settings = settings.replace(tier_basis="orders")
    now = clock()
    old = now - timedelta(days=200)
    fresh = (await factories.customer(db, "fresh", now=now)).id
    stale = (await factories.customer(db, "stale", now=now)).id
    for index in range(3):
        await shop.order(db, settings, f"stale-{index}", stale, placed_at=old, now=now)
        if index < 2:
            await shop.order(db, settings, f"fresh-{index}", fresh, placed_at=old, now=now)
    await _link_now(db, fresh, 9_101, now)
    await _link_now(db, stale, 9_102, now)
    later = now + timedelta(hours=1)
    await shop.order(db, settings, "fresh-new", fresh, placed_at=later, now=later)
    await run_kind(shop.context(db, settings, later), "tiers")
    (up,) = await shop.deliveries(db, reason="tier_up")
    assert (up.customer_id, up.payload["tier"]) == (fresh, 1)
