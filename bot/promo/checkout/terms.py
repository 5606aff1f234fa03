"""The shop's checkout terms, resolved once per process: the stacking policy, the margin
ceiling, what free shipping costs, and the tier each shopper has.

The ceiling comes from the average order: the configured one, else the one measured over
the last 180 days. Measuring is an aggregate over the orders, too slow to run on every
validate, so the measured figure is kept for `REFRESH` and measured again in a hot-path
job when it is older. An average that moves by a few kopecks in ten
minutes does not move the ceiling that the guardrail rounds to 0.1 %.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam

from bot.config import GuardrailSettings, LoyaltySettings
from bot.db.hotpath import HotPath
from bot.db.prepared import Prepared
from bot.db.tx import Tx
from bot.promo.checkout.order_discount import Terms, tier_offer
from bot.promo.codes.guardrail import (
    AOV_WINDOW_DAYS,
    Stacking,
    average_between,
    ceiling_percent,
    settle_average,
)
from bot.promo.codes.offers import Offer
from bot.promo.customers.tiers import ORDERS, tier_for

REFRESH = timedelta(minutes=10)
_AVERAGE = Prepared(average_between(bindparam("since"), bindparam("now")))


@dataclass(frozen=True, slots=True)
class Standing:
    """What the tier is computed from: net spend (minor units) and the number of orders."""

    net_spend: int
    orders_count: int


class ShopTerms:
    """Checkout's view of the settings; one per process (the API app keeps it)."""

    def __init__(self, guardrail: GuardrailSettings, loyalty: LoyaltySettings) -> None:
        self._guardrail = guardrail
        self._loyalty = loyalty
        self._stacking = Stacking(guardrail.stacking)
        self._terms: Terms | None = None
        self._measured_at: datetime | None = None

    def cached(self, now: datetime) -> Terms | None:
        """The terms if nothing needs measuring: a redeem measures outside its write
        transaction (`terms` in a read job), never while it holds the writers' lock."""
        fresh = self._measured_at is not None and now - self._measured_at < REFRESH
        if self._terms is not None and (fresh or self._guardrail.average_order_value > 0):
            return self._terms
        return None

    async def current(self, hot: HotPath, now: datetime) -> Terms:
        """The terms for an order now: the kept ones, else measured in a hot-path read job
        of its own (never inside a caller's write transaction)."""
        return self.cached(now) or await hot.read(self.terms, now)

    async def terms(self, tx: Tx, now: datetime) -> Terms:
        """The terms for an order now; may measure the average order in `tx`."""
        if (terms := self.cached(now)) is not None:
            return terms
        if self._guardrail.average_order_value > 0:
            average = self._guardrail.average_order_value
        else:
            since = now - timedelta(days=AOV_WINDOW_DAYS)
            measured = await tx.scalar(_AVERAGE, {"since": since, "now": now})
            average, _source = settle_average(self._guardrail, measured)
        _break_even, ceiling = ceiling_percent(self._guardrail, average)
        self._terms = Terms(self._stacking, ceiling, self._guardrail.shipping_cost)
        self._measured_at = now
        return self._terms

    def tier(self, standing: Standing) -> Offer | None:
        """The shopper's tier discount as an offer on the whole order."""
        value = standing.orders_count if self._loyalty.basis == ORDERS else standing.net_spend
        status = tier_for(value or 0, self._loyalty)
        return tier_offer(status.percent, status.free_shipping)
