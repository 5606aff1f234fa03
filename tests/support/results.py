"""A campaign with two variants and a holdout whose results a test can work out by hand
(`/stats`, `/export`, the API's stats and `promobot campaign stats` read the same).

Every order is 5 000 ₽, so the measured average order is 5 000 ₽ and, with the default
net profit of 1 500 ₽ an order, the margin rate is 0.3: an order earns 1 500 ₽ before its
discount. Assignments five days ago; orders two days ago.

- holdout h0..h9: h0 and h1 order (h1 returns 1 000 ₽ of it); h2 ordered only before
  being assigned;
- A (5 %) a0..a9: all reached in Telegram; a0..a5 use their code (discount 250 ₽);
  a6 orders without it; a7's order is cancelled and its use released;
- B (10 %) b0..b8 have a Telegram code, b8's message still waits; b9 got a code by
  email through the shop's API; b0..b4 and b9 use theirs (500 ₽, b0 with free shipping
  that cost the shop 300 ₽ more).
Noise that is not this campaign's: another campaign's customer and code, used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import tests.support.factories as factories
from bot.db import Database
from bot.db.models import (
    CampaignAssignment,
    CodeSource,
    Delivery,
    DiscountType,
    Order,
    PromoCode,
    Redemption,
)
from bot.promo.codes.offers import Offer

ORDER = 500_000
RETURNED = 100_000


def always_valid(se: float, n: int) -> float:
    """The half-width of Waudby-Smith et al.'s asymptotic 95 % confidence sequence for an
    estimate with standard error `se` from `n` customers, ρ tuned for 1 000: written out
    here from the paper, not taken from the code under test."""
    rho2 = (2 * math.log(20) + math.log(2 * math.log(20) + 1)) / 1000
    v = n * rho2
    return se * math.sqrt(2 * (v + 1) / v * math.log(math.sqrt(v + 1) * 20))


@dataclass
class Seeded:
    campaign_id: int
    a_id: int
    b_id: int


def _order(external_id: str, customer_id: int, placed_at: datetime, **fields: object) -> Order:
    values = {"status": "paid", "total": ORDER, "currency": "RUB", "discount": 0, **fields}
    return Order(external_id=external_id, customer_id=customer_id, placed_at=placed_at,
                 **values)


def _use(code: PromoCode, order: str, discount: int, at: datetime, cost: int | None = None,
         released_at: datetime | None = None) -> Redemption:
    return Redemption(code_id=code.id, customer_id=code.customer_id, order_external_id=order,
                      order_total=ORDER, discount=discount, cost=discount if cost is None else cost,
                      free_shipping=cost is not None, created_at=at, released_at=released_at)


async def _codes(db: Database, campaign_id: int, variant_id: int, percent: int, customers: list,
                 now: datetime, channel: str = "telegram") -> list[PromoCode]:
    return [await factories.code(db, Offer(DiscountType.PERCENT, percent), now=now,
                                 source=CodeSource.CAMPAIGN if channel == "telegram"
                                 else CodeSource.API, channel=channel, customer_id=c.id,
                                 campaign_id=campaign_id, variant_id=variant_id,
                                 expires_at=now + timedelta(days=20))
            for c in customers]


async def seed(db: Database, now: datetime) -> Seeded:
    campaign = await factories.campaign(
        db, now=now - timedelta(days=10), name="Spring", segment="regulars", holdout_percent=30,
        variants=[{"name": "A", "weight": 1, "offer": {"discount_type": "percent", "value": 5}},
                  {"name": "B", "weight": 1, "offer": {"discount_type": "percent", "value": 10}}])
    a, b = campaign.variants
    held = await factories.customers(db, 10, now=now, prefix="h")
    in_a = await factories.customers(db, 10, now=now, prefix="a", telegram_base=8000)
    in_b = await factories.customers(db, 10, now=now, prefix="b", telegram_base=9000)
    a_codes = await _codes(db, campaign.id, a.id, 5, in_a, now)
    b_codes = await _codes(db, campaign.id, b.id, 10, in_b[:9], now)
    (email,) = await _codes(db, campaign.id, b.id, 10, in_b[9:], now, channel="email")
    other = await factories.campaign(db, now=now - timedelta(days=10), name="Other")
    (stranger,) = await factories.customers(db, 1, now=now, prefix="x")
    (foreign,) = await _codes(db, other.id, None, 15, [stranger], now)  # type: ignore[arg-type]
    assigned, ordered = now - timedelta(days=5), now - timedelta(days=2)
    rows: list[object] = []
    # The chances the split gave: 30 % holdout, the rest halved between A and B.
    for customers, variant_id, chance in ((held, None, 0.3), (in_a, a.id, 0.35),
                                          (in_b, b.id, 0.35)):
        rows += [CampaignAssignment(campaign_id=campaign.id, customer_id=c.id,
                                    variant_id=variant_id, is_holdout=variant_id is None,
                                    propensity=chance, holdout_share=0.3,
                                    assigned_at=assigned) for c in customers]
    rows.append(CampaignAssignment(campaign_id=other.id, customer_id=stranger.id,
                                   assigned_at=assigned))
    for code in [*a_codes, *b_codes, foreign]:
        waiting = code is b_codes[8]
        rows.append(Delivery(dedupe_key=f"d:{code.id}", customer_id=code.customer_id,
                             reason="campaign", campaign_id=code.campaign_id, code_id=code.id,
                             status="pending" if waiting else "sent", due_at=assigned,
                             sent_at=None if waiting else assigned, created_at=assigned))
    rows += [
        _order("h0", held[0].id, ordered), _order("h1", held[1].id, ordered,
                                                  status="partially_returned",
                                                  returned_amount=RETURNED),
        _order("h2", held[2].id, now - timedelta(days=7)),
        *(_order(f"a{i}", in_a[i].id, ordered) for i in range(7)),
        _order("a7", in_a[7].id, ordered, status="cancelled"),
        *(_order(f"b{i}", in_b[i].id, ordered) for i in (0, 1, 2, 3, 4, 9)),
        _order("x0", stranger.id, ordered),
        *(_use(a_codes[i], f"a{i}", 25_000, ordered) for i in range(6)),
        _use(a_codes[7], "a7", 25_000, ordered, released_at=now - timedelta(days=1)),
        _use(b_codes[0], "b0", 50_000, ordered, cost=80_000),
        *(_use(b_codes[i], f"b{i}", 50_000, ordered) for i in range(1, 5)),
        _use(email, "b9", 50_000, ordered),
        _use(foreign, "x0", 75_000, ordered),
    ]
    async with db.session() as session:
        session.add_all(rows)
        await session.commit()
    return Seeded(campaign.id, a.id, b.id)


async def seed_clear_winner(db: Database, now: datetime, *, per_group: int = 100,
                            promised: float = 0.5) -> int:
    """A campaign of one variant, "A" (5 %), where half of A's customers bought again and a
    fifth of the holdout's, each order 5 000 ₽, `per_group` customers in each; the split
    promised the holdout `promised` of them. The campaign's id."""
    campaign = await factories.campaign(
        db, now=now - timedelta(days=10), name="Clear", holdout_percent=round(promised * 100),
        variants=[{"name": "A", "weight": 1, "offer": {"discount_type": "percent", "value": 5}}])
    (a,) = campaign.variants
    held = await factories.customers(db, per_group, now=now, prefix="ch")
    treated = await factories.customers(db, per_group, now=now, prefix="ca")
    assigned, ordered = now - timedelta(days=5), now - timedelta(days=2)
    rows: list[object] = []
    for customers, variant_id, chance, buying in ((held, None, promised, 5),
                                                  (treated, a.id, 1 - promised, 2)):
        for i, c in enumerate(customers):
            rows.append(CampaignAssignment(
                campaign_id=campaign.id, customer_id=c.id, variant_id=variant_id,
                is_holdout=variant_id is None, propensity=chance, holdout_share=promised,
                assigned_at=assigned))
            if i % buying == 0:
                rows.append(_order(f"o-{c.external_id}", c.id, ordered))
    async with db.session() as session:
        session.add_all(rows)
        await session.commit()
    return campaign.id
