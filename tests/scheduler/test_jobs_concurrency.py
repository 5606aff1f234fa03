"""The same job run twice at once: no duplicate codes, assignments or outbox rows."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select

import tests.support.factories as factories
import tests.support.shop as shop
from bot.db import create_database
from bot.db.models import CampaignAssignment, Customer, Delivery, PromoCode
from bot.promo.campaigns.running import run_kind
from bot.promo.customers.accounts import record_referral
from bot.promo.shop.reviews import record_review


async def _twice(settings, now, kind, runs=2):
    """Each run on its own engine, as two processes would."""
    databases = [create_database(settings.db.url) for _ in range(runs)]
    try:
        return await asyncio.gather(*(
            run_kind(shop.context(db, settings, now, batch_size=7), kind) for db in databases
        ))
    finally:
        for db in databases:
            await db.dispose()


async def _no_duplicates(db):
    async with db.read_session() as session:
        deliveries = await session.scalar(select(func.count()).select_from(Delivery))
        keys = await session.scalar(select(func.count(func.distinct(Delivery.dedupe_key))))
        codes = await session.scalar(select(func.count()).select_from(PromoCode))
        coded = await session.scalar(select(func.count()).where(Delivery.code_id.is_not(None)))
        per_customer = (await session.execute(
            select(CampaignAssignment.campaign_id, CampaignAssignment.customer_id, func.count())
            .group_by(CampaignAssignment.campaign_id, CampaignAssignment.customer_id)
            .having(func.count() > 1))).all()
    assert deliveries == keys
    assert codes == coded  # every code issued is carried by exactly one message
    assert per_customer == []
    return deliveries


async def test_comeback_twice_at_once(db, settings, clock):
    now = clock()
    for i in range(40):
        await shop.silent_customer(db, settings, f"c{i}", now, 35 + 2 * i, orders=1 + i % 2)
    results = await _twice(settings, now, "comeback", runs=3)
    sent = await _no_duplicates(db)
    assert sent == sum(r.queued for r in results) > 0
    assert sum(r.issued for r in results) == sent


async def test_escalation_twice_at_once(db, settings, clock):
    now = clock()
    for i in range(20):
        await shop.silent_customer(db, settings, f"c{i}", now, 61, orders=2)
    await run_kind(shop.context(db, settings, now), "comeback")
    for code in await shop.codes(db):
        await shop.deliver(db, code.id, now)
    results = await _twice(settings, now + timedelta(days=31), "comeback")
    assert sum(r.escalated for r in results) == 20
    assert await _no_duplicates(db) == 40


async def test_rewards_twice_at_once(db, settings, clock):
    now = clock()
    host = (await factories.linked_customer(db, "host", now=now)).id
    for i in range(10):
        cid = (await factories.linked_customer(db, f"c{i}", now=now)).id
        placed = now - timedelta(days=25)
        await shop.order(db, settings, f"o{i}", cid, placed_at=placed, now=now)
        async with db.session() as session:
            customer = await session.get(Customer, cid)
            await record_review(session, customer, f"o{i}", rating=4, has_photo=bool(i % 2),
                                now=now)
            await session.commit()
    # Friends are referred before their first order (existing buyers cannot be).
    friends = [(await factories.linked_customer(db, f"f{i}", now=now)).id for i in range(5)]
    async with db.session() as session:
        for friend in friends:
            await record_referral(session, host, await session.get(Customer, friend), now)
        await session.commit()
    for i, friend in enumerate(friends):
        await shop.order(db, settings, f"fo{i}", friend, placed_at=now - timedelta(days=25),
                         now=now)
    for kind in ("review", "referral"):
        await _twice(settings, now, kind)
    await _no_duplicates(db)
    assert len(await shop.codes(db, source="review")) == 10
    assert len(await shop.codes(db, source="referral")) == 10  # 5 friends + host (cap 5)
