"""Variants and holdout: deterministic, sticky, recorded, close to the weights."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import tests.support.factories as factories
import tests.support.shop as shop
from bot.db.models import Campaign, CampaignVariant
from bot.promo.campaigns.experiments import bucket, design
from bot.promo.campaigns.running import run_campaign


def _campaign(holdout: int, *weights: int) -> tuple[Campaign, list[CampaignVariant]]:
    campaign = Campaign(id=7, name="t", kind="broadcast", holdout_percent=holdout, offer={})
    variants = [CampaignVariant(id=i + 1, campaign_id=7, name=f"v{i}", weight=w,
                                offer={"value": 5 + i}) for i, w in enumerate(weights)]
    return campaign, variants


def test_assignment_is_a_function_of_campaign_and_customer():
    assert bucket(1, 42) == bucket(1, 42)
    assert bucket(1, 42) != bucket(2, 42)
    split = design(*_campaign(10, 1, 1))
    assert [split.choose(7, c) for c in range(500)] == [split.choose(7, c) for c in range(500)]


def test_shares_match_weights_and_holdout():
    split = design(*_campaign(10, 3, 1))
    counts = Counter(
        "holdout" if arm.is_holdout else arm.variant_id
        for arm in (split.choose(7, c) for c in range(40_000))
    )
    assert abs(counts["holdout"] / 40_000 - 0.10) < 0.01
    assert abs(counts[1] / 40_000 - 0.675) < 0.015
    assert abs(counts[2] / 40_000 - 0.225) < 0.015
    assert [split.propensity(arm) for arm in split.arms] == [0.675, 0.225]


async def _broadcast(db, now, **fields):
    campaign = await factories.campaign(
        db, now=now, kind="broadcast", segment="almost_lost", holdout_percent=20,
        offer={"discount_type": "percent", "value": 7, "valid_days": 14},
        message_ru="Скучаем <b>по вам</b>", message_en="We miss you",
        variants=[{"name": "A", "weight": 1, "offer": {}},
                  {"name": "B", "weight": 1, "offer": {"value": 10, "min_order": 200_000}}],
        **fields)
    return campaign.id


async def test_holdout_gets_nothing_and_assignment_is_stable_across_runs(db, settings, clock):
    now = clock()
    for i in range(60):
        await shop.silent_customer(db, settings, f"c{i}", now, 100, orders=2)
    campaign_id = await _broadcast(db, now)

    result = await run_campaign(shop.context(db, settings, now), campaign_id)

    assert result.assigned == 60 and 0 < result.holdout < 30
    assert result.issued == result.queued == 60 - result.holdout
    rows = await shop.assignments(db, campaign_id)
    first = {(a.customer_id, a.variant_id, a.is_holdout) for a in rows}
    # Each row records the chances the split gave it: what the reports weigh it by.
    assert {(a.is_holdout, a.propensity, a.holdout_share) for a in rows} == {
        (True, 0.2, 0.2), (False, 0.4, 0.2)}
    holdout = {c for c, _, h in first if h}
    codes = await shop.codes(db, campaign_id=campaign_id)
    assert holdout.isdisjoint({c.customer_id for c in codes})
    assert holdout.isdisjoint({d.customer_id for d in await shop.deliveries(db)})
    by_variant = {c.customer_id: c for c in codes}
    for customer_id, variant_id, is_holdout in first:
        if not is_holdout:
            code = by_variant[customer_id]
            assert code.variant_id == variant_id
            assert code.discount_value == (7 if variant_id == min(
                v for _, v, h in first if not h) else 10)

    # A later run, with the weights changed, moves nobody and sends nothing twice.
    async with db.session() as session:
        await session.execute(CampaignVariant.__table__.update()
                              .where(CampaignVariant.campaign_id == campaign_id)
                              .values(weight=5))
        await session.commit()
    again = await run_campaign(shop.context(db, settings, now + timedelta(days=1)), campaign_id)
    assert (again.assigned, again.issued, again.queued) == (0, 0, 0)
    assert {(a.customer_id, a.variant_id, a.is_holdout) for a in await shop.assignments(
        db, campaign_id)} == first


async def test_broadcast_message_and_reference_point(db, settings, clock):
    now = clock()
    stays = await shop.silent_customer(db, settings, "stays", now, 100)
    campaign_id = await _broadcast(db, now, started_at=now - timedelta(days=1))
    # Someone silent 100 days by the time of the run, but who ordered since the start.
    came_back = await shop.silent_customer(db, settings, "back", now, 100)
    await shop.order(db, settings, "back-new", came_back, placed_at=now - timedelta(hours=2),
                     now=now)
    await run_campaign(shop.context(db, settings, now), campaign_id)
    assigned = {a.customer_id for a in await shop.assignments(db, campaign_id)}
    assert came_back not in assigned
    assert stays in assigned
    for delivery in await shop.deliveries(db, reason="campaign"):
        assert delivery.payload["message"] == {"ru": "Скучаем <b>по вам</b>",
                                               "en": "We miss you"}
