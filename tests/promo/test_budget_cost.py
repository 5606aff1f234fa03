"""What a code costs a manager's budget (and a campaign preview): free shipping counts at
`PROMOBOT_SHIPPING_COST`, as the margin guardrail counts it (issue 11: it cost 0)."""

from __future__ import annotations

from bot.config import GuardrailSettings
from bot.db.models import DiscountType
from bot.promo.codes.offers import Offer
from bot.promo.staff.budget import offer_cost

AOV = 500_000
GUARDRAIL = GuardrailSettings()  # shipping costs 300 ₽


def test_free_shipping_costs_the_shipping() -> None:
    assert offer_cost(Offer(DiscountType.FREE_SHIPPING), AOV, GUARDRAIL) == 30_000
    # 12 % of the 5 000 ₽ average order, plus the shipping.
    percent = Offer(DiscountType.PERCENT, 12, free_shipping=True)
    assert offer_cost(percent, AOV, GUARDRAIL) == 60_000 + 30_000
    # `max_discount` caps the goods discount, not what delivery costs the shop.
    capped = Offer(DiscountType.FIXED, 100_000, free_shipping=True, max_discount=20_000)
    assert offer_cost(capped, AOV, GUARDRAIL) == 20_000 + 30_000


def test_without_free_shipping_or_a_shipping_cost_nothing_is_added() -> None:
    assert offer_cost(Offer(DiscountType.PERCENT, 10), AOV, GUARDRAIL) == 50_000
    free = GuardrailSettings(shipping_cost=0)
    assert offer_cost(Offer(DiscountType.FREE_SHIPPING), AOV, free) == 0
