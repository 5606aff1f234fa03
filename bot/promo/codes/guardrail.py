"""Margin guardrail: how deep a discount may go before an order stops paying for itself.

ceiling % = net profit per order / average order value × (1 − safety share).
A fixed amount is read as a share of the order value (the code's expected order, else
the average); free shipping costs the shop `shipping_cost` and counts as that share of
the order too, on its own or on top of a percent or an amount. Nothing here raises:
callers refuse with the numbers, in the reader's language.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import GuardrailSettings
from bot.db.models import DiscountType, Order, OrderStatus

AOV_WINDOW_DAYS = 180
_TENTH = Decimal("0.1")
_HUNDRED = Decimal(100)

AOV_SETTING = "setting"
AOV_MEASURED = "measured"
AOV_FALLBACK = "fallback"
NOTE_FREE_SHIPPING = "free_shipping_not_counted"


@dataclass(frozen=True, slots=True)
class GuardrailCheck:
    allowed: bool
    # The usable ceiling (safety share taken off), rounded down to 0.1 %.
    ceiling_percent: Decimal
    # Net profit / average order value, before the safety share, rounded down to 0.1 %.
    break_even_percent: Decimal
    # What the discount asks, rounded up to 0.1 % so that a refusal never shows "x > x".
    requested_percent: Decimal
    net_profit: int
    average_order_value: int
    # Where the average came from: "setting", "measured" (last 180 days) or "fallback".
    average_source: str
    safety_share: Decimal
    discount_type: str
    note: str | None = None


async def average_order_value(
    session: AsyncSession, guardrail: GuardrailSettings, *, now: datetime
) -> tuple[int, str]:
    """The configured average order value, else measured over the last 180 days of orders
    that were not cancelled (one aggregate query), else the fallback setting."""
    if guardrail.average_order_value > 0:
        return guardrail.average_order_value, AOV_SETTING
    measured = await session.scalar(
        select(func.avg(Order.total)).where(
            Order.placed_at >= now - timedelta(days=AOV_WINDOW_DAYS),
            Order.placed_at <= now,
            Order.status != OrderStatus.CANCELLED,
        )
    )
    if measured is not None and measured > 0:
        return int(Decimal(measured).to_integral_value()), AOV_MEASURED
    return guardrail.fallback_average_order_value, AOV_FALLBACK


def _share(amount: int, order_value: int) -> Decimal:
    """An amount as a percent of the order; all of it when there is no order to measure."""
    return _HUNDRED * amount / order_value if order_value > 0 else _HUNDRED


async def check_discount(
    session: AsyncSession,
    *,
    discount_type: str,
    value: int,
    guardrail: GuardrailSettings,
    now: datetime,
    order_value: int | None = None,
    free_shipping: bool = False,
) -> GuardrailCheck:
    """Is this discount within the margin ceiling? `value` is a whole percent or an amount
    in minor units; `order_value` (e.g. the code's minimum order) is the order a fixed
    amount and the cost of free shipping are measured against, else the average order
    value."""
    average, source = await average_order_value(session, guardrail, now=now)
    net_profit = guardrail.net_profit_per_order
    safety = Decimal(str(guardrail.safety_share))
    break_even = _HUNDRED * net_profit / average if average > 0 else Decimal(0)
    ceiling = break_even * (1 - safety)

    kind = DiscountType(discount_type)
    base = order_value if order_value and order_value > 0 else average
    if kind is DiscountType.PERCENT:
        requested = Decimal(value)
    elif kind is DiscountType.FIXED:
        requested = _share(value, base)
    else:
        requested = Decimal(0)
    note = None
    if free_shipping or kind is DiscountType.FREE_SHIPPING:
        if guardrail.shipping_cost:
            requested += _share(guardrail.shipping_cost, base)
        else:
            note = NOTE_FREE_SHIPPING

    floor_ceiling = ceiling.quantize(_TENTH, rounding=ROUND_FLOOR)
    return GuardrailCheck(
        allowed=requested <= floor_ceiling,
        ceiling_percent=floor_ceiling,
        break_even_percent=break_even.quantize(_TENTH, rounding=ROUND_FLOOR),
        requested_percent=requested.quantize(_TENTH, rounding=ROUND_CEILING),
        net_profit=net_profit,
        average_order_value=average,
        average_source=source,
        safety_share=safety,
        discount_type=kind.value,
        note=note,
    )
