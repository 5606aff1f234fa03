"""Checkout as the shop API calls it, for tests that drive the domain directly.

`SHOP` holds the default settings: exclusive stacking and an 18 % ceiling (net profit
1 500 ₽ on an average order of 5 000 ₽, 40 % safety), as a shop starts with.
`OPEN` lifts the ceiling to 100 % for tests about other rules (limits, races, replays),
so that a 10 % code on a small basket is not capped by the margin.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import GuardrailSettings, LoyaltySettings
from bot.db.hotpath import HotPath, on_connection
from bot.db.models import Customer
from bot.db.prepared import Prepared
from bot.promo.checkout import redemption
from bot.promo.checkout.lookup import check
from bot.promo.checkout.redemption import RedeemOutcome
from bot.promo.checkout.terms import ShopTerms
from bot.promo.checkout.validation import Verdict
from bot.promo.codes.offers import Basket, Offer

SHOP = ShopTerms(GuardrailSettings(), LoyaltySettings())
OPEN = ShopTerms(
    GuardrailSettings(guardrail_net_profit_per_order=500_000, guardrail_average_order_value=500_000,
                      guardrail_safety_share=0),
    LoyaltySettings(),
)


def terms(**settings: Any) -> ShopTerms:
    """Shop terms with some guardrail variables changed (`stacking="additive"`)."""
    return ShopTerms(GuardrailSettings(**settings), LoyaltySettings())


async def validate(
    session: AsyncSession, raw_code: str, *, customer_id: int | None, basket: Basket,
    now: datetime, shop: ShopTerms = OPEN, tier: Offer | None = None,
    order_id: str | None = None,
) -> Verdict:
    return await on_connection(session, partial(
        check, raw_code=raw_code, customer_id=customer_id, basket=basket, tier=tier, shop=shop,
        now=now, order_external_id=order_id))


_EXTERNAL_ID = Prepared(select(Customer.external_id).where(Customer.id == bindparam("id")))


async def redeem(hot: HotPath, raw_code: str, *, customer_id: int, shop: ShopTerms = OPEN,
                 **order: Any) -> RedeemOutcome:
    """The redeem of the shop API, for the customer of our id `customer_id`, at their tier."""
    external_id = (await hot.first(_EXTERNAL_ID, {"id": customer_id})).external_id
    terms = await shop.current(hot, order["now"])
    redeemed = await redemption.redeem(hot, raw_code, external_id=external_id, terms=terms,
                                       shop=shop, **order)
    assert redeemed is not None
    shopper, outcome = redeemed
    assert shopper.id == customer_id
    return outcome
