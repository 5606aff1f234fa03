"""The optimiser: an optimised campaign sends more of its new recipients to the variant
that earned the most margin per recipient over the window after its offer, keeps every
variant at its floor and the holdout at its share, records each recipient's chance, and
says in `/stats` which offer leads and how sure that is."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import tests.support.factories as factories
import tests.support.shop as shop
from bot.db.models import CampaignAssignment, Order
from bot.promo.campaigns.analytics import campaign_stats
from bot.promo.campaigns.confidence import Moments
from bot.promo.campaigns.optimiser import FLOOR, MIN_MEASURED, best_chances
from bot.promo.campaigns.running import run_campaign
from bot.texts.results import stats_lines

OFFERS = {"A": 5, "B": 10, "C": 15}


def test_the_chance_of_being_best() -> None:
    # 100 recipients each: 5 and 20 of them came back, each earning 100.
    clear = {1: Moments(100, 100, 100, 500, 500, 50_000),
             2: Moments(100, 100, 100, 2000, 2000, 200_000)}
    assert (best_chances(clear, [1, 2], seed=1) or {}).get(2, 0) > 0.99
    alike = {v: Moments(100, 100, 100, 1000, 1000, 20_000) for v in (1, 2, 3)}
    chances = best_chances(alike, [1, 2, 3], seed=1)
    assert chances is not None and all(abs(c - 1 / 3) < 0.05 for c in chances.values())
    # Nobody has come back yet: nothing to tell the variants apart by.
    nobody = {v: Moments(40, 40, 40, 0, 0, 0) for v in (1, 2)}
    assert best_chances(nobody, [1, 2], seed=1) is None
    # Two of 40 came back with variant 2, none yet with variant 1: 1 is behind, not out
    # (before, its posterior had no width and it lost every draw).
    some = {1: Moments(40, 40, 40, 0, 0, 0), 2: Moments(40, 40, 40, 2, 2, 2)}
    behind = best_chances(some, [1, 2], seed=1)
    assert behind is not None and 0.05 < behind[1] < 0.25, behind


async def _optimised(db, now, **fields):
    return await factories.campaign(
        db, now=now - timedelta(days=20), kind="broadcast", segment="almost_lost",
        holdout_percent=20, optimise=True, offer={"discount_type": "percent", "value": 5},
        message_ru="Скучаем", message_en="We miss you",
        variants=[{"name": name, "weight": 1, "offer": {"value": value}}
                  for name, value in OFFERS.items()], **fields)


async def _measured(db, campaign, now, buying: dict[str, int], count: int = 40) -> None:
    """`count` recipients of each variant assigned ten days ago; `buying[name]` of them
    bought a 5 000 ₽ order two days after."""
    rows: list[object] = []
    for variant in campaign.variants:
        people = await factories.customers(db, count, now=now - timedelta(days=30),
                                           prefix=f"m{variant.name}")
        for i, c in enumerate(people):
            rows.append(CampaignAssignment(
                campaign_id=campaign.id, customer_id=c.id, variant_id=variant.id,
                propensity=0.8 / 3, holdout_share=0.2, assigned_at=now - timedelta(days=10)))
            if i < buying[variant.name]:
                rows.append(Order(external_id=f"o-{c.external_id}", customer_id=c.id,
                                  status="paid", total=500_000, currency="RUB", discount=0,
                                  placed_at=now - timedelta(days=8)))
    async with db.session() as session:
        session.add_all(rows)
        await session.commit()


async def test_new_recipients_go_mostly_to_the_most_profitable_offer(db, settings,
                                                                     clock) -> None:
    now = clock()
    campaign = await _optimised(db, now)
    await _measured(db, campaign, now, {"A": 4, "B": 20, "C": 6})
    newcomers = {await shop.silent_customer(db, settings, f"n{i}", now, 100, orders=2)
                 for i in range(200)}

    await run_campaign(shop.context(db, settings, now), campaign.id)

    fresh = [a for a in await shop.assignments(db, campaign.id) if a.customer_id in newcomers]
    assert len(fresh) == 200
    names = {v.id: v.name for v in campaign.variants}
    got = Counter("holdout" if a.is_holdout else names[a.variant_id] for a in fresh)
    # B's margin per recipient is far ahead: it gets about 0.05 + 0.85 of the treated;
    # the holdout keeps its 20 %.
    assert got["B"] > 120 and got["A"] + got["C"] < 30 and 20 < got["holdout"] < 60, got
    chances = {a.propensity for a in fresh if not a.is_holdout and names[a.variant_id] == "B"}
    (chance,) = chances
    assert 0.8 * (FLOOR + (1 - 3 * FLOOR) * 0.99) <= chance <= 0.8 * (1 - 2 * FLOOR) + 1e-9
    assert {a.propensity for a in fresh if a.is_holdout} == {0.2}

    async with db.read_session() as session:
        stats = await campaign_stats(session, campaign_id=campaign.id,
                                     since=campaign.created_at, until=now,
                                     guardrail=settings.guardrail)
    text = "\n".join(stats_lines(stats, "t", "en", "RUB", settings.shop.zone))
    steering = stats.steering
    assert steering is not None and names[steering.leader] == "B"
    shares = {names[v]: share for v, share in steering.shares.items()}
    assert shares["B"] > 0.8 and min(shares.values()) >= FLOOR
    # The report says so, and how sure: the newcomers count too, with nothing yet.
    shown = ", ".join(f"{n} ({OFFERS[n]}%) {round(shares[n] * 100, 1):g}%" for n in "ABC")
    assert f"🎯 Optimised split: new recipients now go {shown}." in text, text
    chance = round(steering.best_chance[steering.leader] * 100, 1)
    measured = 3 * 40 + 200 - got["holdout"]
    assert f"Most likely the most profitable: B (10%), with a chance of {chance:g}%" in text
    assert f"({measured} recipients measured)" in text
    # The split moves by design: only the holdout's share is checked.
    assert stats.sample_ratio is not None and stats.sample_ratio.observed[0] >= 20


async def test_the_split_stays_even_while_learning(db, settings, clock) -> None:
    now = clock()
    campaign = await _optimised(db, now)
    await _measured(db, campaign, now, {"A": 0, "B": 2, "C": 0}, count=5)
    newcomers = {await shop.silent_customer(db, settings, f"n{i}", now, 100, orders=2)
                 for i in range(30)}
    await run_campaign(shop.context(db, settings, now), campaign.id)
    fresh = [a for a in await shop.assignments(db, campaign.id) if a.customer_id in newcomers]
    assert {round(a.propensity, 6) for a in fresh if not a.is_holdout} == {round(0.8 / 3, 6)}
    async with db.read_session() as session:
        stats = await campaign_stats(session, campaign_id=campaign.id,
                                     since=campaign.created_at, until=now,
                                     guardrail=settings.guardrail)
    text = "\n".join(stats_lines(stats, "t", "ru", "RUB", settings.shop.zone))
    assert (f"🎯 Разбивка с оптимизацией: поровну, пока у каждого варианта не наберётся "
            f"{MIN_MEASURED} получателей") in text, text
