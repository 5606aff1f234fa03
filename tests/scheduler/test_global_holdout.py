"""The standing global holdout (`PROMOBOT_GLOBAL_HOLDOUT`): its customers get no campaign
promotion of any kind while everybody else's go out as before (the report on it:
tests/handlers/test_manager_program_stats.py)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

import tests.support.factories as factories
import tests.support.shop as shop
from bot.db.models import Customer
from bot.promo.campaigns.admin import preview
from bot.promo.campaigns.global_holdout import is_member, member
from bot.promo.campaigns.running import run_campaign, run_kind
from bot.promo.codes.offers import Item
from bot.promo.shop.carts import record_abandoned_cart

PERCENT = 25


def test_membership_is_a_steady_share_and_growing_it_keeps_members() -> None:
    ids = range(1, 100_001)
    five = {i for i in ids if is_member(i, 5)}
    assert abs(len(five) / len(ids) - 0.05) < 0.002
    # Any month's sign-ups get their share too, not a block of early ids.
    assert abs(sum(1 for i in range(90_001, 91_001) if i in five) / 1000 - 0.05) < 0.01
    assert five <= {i for i in ids if is_member(i, 10)}
    assert not any(is_member(i, 0) for i in ids)


async def test_the_database_agrees_with_python(db, clock) -> None:
    await factories.customers(db, 200, now=clock())
    async with db.read_session() as session:
        rows = (await session.execute(select(Customer.id, member(Customer.id, PERCENT)))).all()
    assert len(rows) == 200
    assert all(bool(held) == is_member(customer_id, PERCENT) for customer_id, held in rows)
    assert 0 < sum(1 for _id, held in rows if held) < 200


async def test_a_broadcast_skips_the_global_holdout(db, settings, clock) -> None:
    now = clock()
    ids = [await shop.silent_customer(db, settings, f"c{i}", now, 100, orders=2)
           for i in range(40)]
    members = {i for i in ids if is_member(i, PERCENT)}
    assert members and len(members) < len(ids)
    campaign = await factories.campaign(
        db, now=now, kind="broadcast", segment="almost_lost",
        offer={"discount_type": "percent", "value": 7, "valid_days": 14},
        message_ru="Скучаем", message_en="We miss you")
    held = settings.replace(global_holdout=PERCENT)

    result = await run_campaign(shop.context(db, held, now), campaign.id)

    assigned = {a.customer_id for a in await shop.assignments(db, campaign.id)}
    assert assigned == set(ids) - members
    assert result.queued == len(ids) - len(members)
    assert members.isdisjoint({d.customer_id for d in await shop.deliveries(db)})
    assert members.isdisjoint({c.customer_id for c in await shop.codes(db)})


async def test_the_comeback_ladder_and_carts_skip_it_too(db, settings, clock) -> None:
    now = clock()
    silent = [await shop.silent_customer(db, settings, f"s{i}", now, 65, orders=2)
              for i in range(16)]
    carts = [(await factories.linked_customer(db, f"cart{i}", now=now)).id for i in range(16)]
    async with db.session() as session:
        for owner in carts:
            await record_abandoned_cart(session, await session.get(Customer, owner),
                                        f"cart-{owner}", [Item("sku-a", 100_000)], now=now)
        await session.commit()
    held = settings.replace(global_holdout=PERCENT)

    await run_kind(shop.context(db, held, now), "comeback")
    await run_kind(shop.context(db, held, now + timedelta(hours=4)), "cart")

    got = {c.customer_id for c in await shop.codes(db)}
    for group, source in ((silent, "comeback"), (carts, "cart")):
        expected = {i for i in group if not is_member(i, PERCENT)}
        assert expected and expected != set(group)
        assert {c.customer_id for c in await shop.codes(db, source=source)} == expected
    assert not any(is_member(i, PERCENT) for i in got)


async def test_the_preview_counts_whom_the_run_will_reach(db, settings, clock) -> None:
    now = clock()
    ids = [await shop.silent_customer(db, settings, f"c{i}", now, 100, orders=2)
           for i in range(40)]
    outside = [i for i in ids if not is_member(i, PERCENT)]
    campaign = await factories.campaign(db, now=now, kind="broadcast", segment="almost_lost",
                                        status="draft")
    async with db.read_session() as session:
        seen = await preview(session, campaign.id, settings=settings.replace(
            global_holdout=PERCENT), now=now)
    assert seen.segment_size == seen.reachable == len(outside) < len(ids)
