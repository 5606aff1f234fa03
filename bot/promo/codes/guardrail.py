"""Margin guardrail: how deep a discount may go before an order stops paying for itself.

ceiling % = net profit per order / average order value × (1 − safety share).
A fixed amount is read as a share of the order value (the code's expected order, else
the average); free shipping costs the shop `shipping_cost` and counts as that share of
the order too, on its own or on top of a percent or an amount; so does a gift item's
cost price, and it comes on top of the customer's tier whatever the stacking policy (a
gift gives nothing off the goods, so it does not compete with the tier at the checkout:
`bot.promo.checkout.order_discount`). Early access weighs as its percent (0 alone), and
never loses to the tier: it opens goods the tier cannot. A personal code is
weighed with its customer's tier under the stacking policy (`judge`). A code limited to
categories may meet a lower ceiling of theirs (`PROMOBOT_GUARDRAIL_CATEGORY_CEILINGS`, a
percent per category: a low-margin line cannot bear the shop's average ceiling); the
ceiling is a percent either way, so the one rule weighs both. Nothing here
raises: callers refuse with the numbers, in the reader's language.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import GuardrailSettings
from bot.db.models import DiscountType, Order, OrderStatus
from bot.promo.customers.tiers import Tier

AOV_WINDOW_DAYS = 180
_TENTH = Decimal("0.1")
_HUNDRED = Decimal(100)

AOV_SETTING = "setting"
AOV_MEASURED = "measured"
AOV_FALLBACK = "fallback"
NOTE_FREE_SHIPPING = "free_shipping_not_counted"
REFUSED_CEILING = "ceiling"
REFUSED_TIER = "tier"


class Stacking(StrEnum):
    """How a tier discount and codes combine on one order (`PROMOBOT_STACKING`; the
    checkout's `order_discount` applies it, the guardrail weighs issuing by it)."""

    EXCLUSIVE = "exclusive"
    ADDITIVE = "additive"


@dataclass(frozen=True, slots=True)
class Share:
    """What a discount takes from an order, in percent: off the goods, and the cost of
    free shipping when it gives that (0 when it does not, or shipping costs nothing)."""

    percent: Decimal
    shipping: Decimal = Decimal(0)
    # A gift item's cost price.
    gift: Decimal = Decimal(0)

    @property
    def total(self) -> Decimal:
        return self.percent + self.shipping + self.gift


@dataclass(frozen=True, slots=True)
class GuardrailCheck:
    allowed: bool
    # The usable ceiling (safety share taken off), rounded down to 0.1 %.
    ceiling_percent: Decimal
    # Net profit / average order value, before the safety share, rounded down to 0.1 %.
    break_even_percent: Decimal
    # What the discount asks, rounded up to 0.1 % so that a refusal never shows "x > x";
    # under additive stacking, with the customer's tier added.
    requested_percent: Decimal
    net_profit: int
    average_order_value: int
    # Where the average came from: "setting", "measured" (last 180 days) or "fallback".
    average_source: str
    safety_share: Decimal
    discount_type: str
    note: str | None = None
    # Why not allowed: REFUSED_CEILING, or REFUSED_TIER (exclusive stacking: the tier
    # gives at least as much, so the code would never apply).
    refusal: str | None = None
    # The parts, rounded to 0.1 % for the message: the code's, and the customer's tier
    # when one was weighed (None: no tier, or a tier that gives nothing).
    code: Share | None = None
    tier: Share | None = None
    stacking: str = Stacking.EXCLUSIVE


async def average_order_value(
    session: AsyncSession, guardrail: GuardrailSettings, *, now: datetime
) -> tuple[int, str]:
    """The configured average order value, else measured over the last 180 days of orders
    that were not cancelled (one aggregate query), else the fallback setting."""
    if guardrail.average_order_value > 0:
        return guardrail.average_order_value, AOV_SETTING
    return settle_average(guardrail, await session.scalar(average_query(now)))


async def margin_rate(session: AsyncSession, guardrail: GuardrailSettings, *, now: datetime
                      ) -> float:
    """What share of an order's total the shop keeps before any discount: net profit per
    order ÷ the average order."""
    average, _source = await average_order_value(session, guardrail, now=now)
    return guardrail.net_profit_per_order / average if average else 0.0


def average_query(now: datetime) -> Select[Any]:
    """The average order over the last 180 days, cancelled orders left out."""
    return average_between(now - timedelta(days=AOV_WINDOW_DAYS), now)


def average_between(since: Any, until: Any) -> Select[Any]:
    """The average order placed between two times (values or bound parameters),
    cancelled orders left out."""
    return select(func.avg(Order.total).label("average")).where(
        Order.placed_at >= since,
        Order.placed_at <= until,
        Order.status != OrderStatus.CANCELLED,
    )


def settle_average(guardrail: GuardrailSettings, measured: Any) -> tuple[int, str]:
    """The measured average if there is one, else the fallback setting."""
    if measured is not None and measured > 0:
        return int(Decimal(measured).to_integral_value()), AOV_MEASURED
    return guardrail.fallback_average_order_value, AOV_FALLBACK


def shipping_cost(guardrail: GuardrailSettings, discount_type: str, free_shipping: bool) -> int:
    """What one order's free shipping costs the shop when the discount gives it, else 0: the
    guardrail counts it as a share of the order, a budget as money."""
    gives = free_shipping or DiscountType(discount_type) is DiscountType.FREE_SHIPPING
    return guardrail.shipping_cost if gives else 0


def _share(amount: int, order_value: int) -> Decimal:
    """An amount as a percent of the order; all of it when there is no order to measure."""
    return _HUNDRED * amount / order_value if order_value > 0 else _HUNDRED


def ceiling_percent(guardrail: GuardrailSettings, average: int) -> tuple[Decimal, Decimal]:
    """The break-even discount (unrounded) and the usable ceiling (safety share taken
    off) for an average order, in percent. The ceiling is rounded down to 0.1 %, as it is
    shown, so that issuing and the checkout hold the same line."""
    break_even = _HUNDRED * guardrail.net_profit_per_order / average if average > 0 else Decimal(0)
    ceiling = break_even * (1 - Decimal(str(guardrail.safety_share)))
    return break_even, ceiling.quantize(_TENTH, rounding=ROUND_FLOOR)


def category_ceiling(guardrail: GuardrailSettings, categories: Sequence[str]
                     ) -> Decimal | None:
    """The lowest ceiling set for any of these categories (`category_ceilings`), None
    when none has one. A code limited to categories discounts only their goods, so a
    category that earns less than the average order holds it lower."""
    own = [guardrail.category_ceilings[c] for c in categories if c in guardrail.category_ceilings]
    return min(own).quantize(_TENTH, rounding=ROUND_FLOOR) if own else None


async def check_discount(
    session: AsyncSession,
    *,
    discount_type: str,
    value: int,
    guardrail: GuardrailSettings,
    now: datetime,
    order_value: int | None = None,
    free_shipping: bool = False,
    tier: Tier | None = None,
    gift_cost: int = 0,
    categories: Sequence[str] = (),
) -> GuardrailCheck:
    """Is this discount within the margin ceiling? `value` is a whole percent or an amount
    in minor units; `order_value` (e.g. the code's minimum order) is the order a fixed
    amount and the cost of free shipping are measured against, else the average order
    value. With `tier` (a personal code's customer), see `judge`."""
    average, source = await average_order_value(session, guardrail, now=now)
    return judge(
        guardrail,
        average,
        source,
        discount_type=discount_type,
        value=value,
        order_value=order_value,
        free_shipping=free_shipping,
        tier=tier,
        gift_cost=gift_cost,
        categories=categories,
    )


def judge(
    guardrail: GuardrailSettings,
    average: int,
    source: str,
    *,
    discount_type: str,
    value: int,
    order_value: int | None = None,
    free_shipping: bool = False,
    tier: Tier | None = None,
    gift_cost: int = 0,
    categories: Sequence[str] = (),
) -> GuardrailCheck:
    """`check_discount` for an average order already known: pure, so a run over many
    customers measures the average once.

    With the customer's `tier`, the stacking policy decides what the order would take:
    additive, the tier's percent + the code + free shipping once if either gives it, all
    within the ceiling; exclusive, the larger of the two (free shipping's cost counted in,
    a tie to the tier, as at the checkout), so a code no larger than the tier is refused:
    it would never apply. A code limited to `categories` is held to the lowest of their
    ceilings too (`category_ceiling`)."""
    break_even, floor_ceiling = ceiling_percent(guardrail, average)
    own = category_ceiling(guardrail, categories)
    if own is not None:
        floor_ceiling = min(floor_ceiling, own)
    kind = DiscountType(discount_type)
    base = order_value if order_value and order_value > 0 else average
    code = Share(
        _price_share(kind, value, base),
        _share_of(shipping_cost(guardrail, kind, free_shipping), base),
        _share_of(gift_cost, base),
    )
    ranked = None
    if tier is not None and (tier.percent or tier.free_shipping):
        ranked = Share(
            Decimal(tier.percent),
            _share_of(shipping_cost(guardrail, DiscountType.PERCENT, tier.free_shipping), base),
        )

    requested, refusal = _verdict(code, ranked, floor_ceiling, guardrail.stacking, kind)
    return GuardrailCheck(
        allowed=refusal is None,
        ceiling_percent=floor_ceiling,
        break_even_percent=break_even.quantize(_TENTH, rounding=ROUND_FLOOR),
        requested_percent=requested.quantize(_TENTH, rounding=ROUND_CEILING),
        net_profit=guardrail.net_profit_per_order,
        average_order_value=average,
        average_source=source,
        safety_share=Decimal(str(guardrail.safety_share)),
        discount_type=kind.value,
        note=NOTE_FREE_SHIPPING
        if (free_shipping or kind is DiscountType.FREE_SHIPPING) and not guardrail.shipping_cost
        else None,
        refusal=refusal,
        code=_shown(code),
        tier=_shown(ranked) if ranked is not None else None,
        # A gift is weighed added to the tier whatever the policy.
        stacking=Stacking.ADDITIVE if kind is DiscountType.GIFT else guardrail.stacking,
    )


def _verdict(
    code: Share, tier: Share | None, ceiling: Decimal, stacking: str, kind: DiscountType
) -> tuple[Decimal, str | None]:
    """What the order would take, and why that is refused (None: it is not)."""
    # A gift comes with the tier under either policy; early access always opens its goods.
    additive = tier is not None and (stacking == Stacking.ADDITIVE or kind is DiscountType.GIFT)
    requested = code.total
    if tier is not None and additive:
        requested = (tier.percent + code.percent + max(tier.shipping, code.shipping)
                     + code.gift)
    if requested > ceiling:
        return requested, REFUSED_CEILING
    if (tier is not None and not additive and code.total <= tier.total
            and kind is not DiscountType.EARLY_ACCESS):
        return requested, REFUSED_TIER
    return requested, None


def _price_share(kind: DiscountType, value: int, base: int) -> Decimal:
    """What the discount takes off the goods, in percent of the order."""
    if kind in (DiscountType.PERCENT, DiscountType.EARLY_ACCESS):
        return Decimal(value)
    return _share(value, base) if kind is DiscountType.FIXED else Decimal(0)


def _share_of(cost: int, base: int) -> Decimal:
    """A cost that may be nothing (no free shipping) as a share of the order."""
    return _share(cost, base) if cost else Decimal(0)


def _shown(share: Share) -> Share:
    return Share(
        share.percent.quantize(_TENTH, rounding=ROUND_HALF_UP),
        share.shipping.quantize(_TENTH, rounding=ROUND_HALF_UP),
        share.gift.quantize(_TENTH, rounding=ROUND_HALF_UP),
    )
