"""A manager's monthly discount budget: what their codes may cost the shop in a month.

A code's cost is what one use is expected to give away: a fixed amount, or the percent
of the larger of its minimum order and the average order value (capped by its
`max_discount`), plus `PROMOBOT_SHIPPING_COST` when it gives free shipping and a gift
item's cost price when it gives one, as the
margin guardrail counts it (`guardrail.shipping_cost`). What a manager has spent is
the cost of the codes they issued since the first of the shop's calendar month, except
codes revoked unused (their budget comes back).
The budget is `Manager.monthly_budget`, else `manager_monthly_budget`; 0 = unlimited;
owners are never limited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, not_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import month_start
from bot.config import GuardrailSettings, Settings, StaffSettings
from bot.db.models import CodeStatus, DiscountType, Manager, PromoCode, Role
from bot.promo.codes.guardrail import average_order_value, shipping_cost
from bot.promo.codes.offers import Offer
from bot.promo.errors import DomainError, ErrorCode
from bot.promo.staff.managers import Staff


def unit_cost(
    discount_type: str,
    value: int,
    min_order: int,
    max_discount: int | None,
    aov: int,
    *,
    free_shipping: bool,
    guardrail: GuardrailSettings,
    gift_cost: int = 0,
) -> int:
    """Expected cost of one use, minor units: the discount, then its free shipping and
    its gift item."""
    kind = DiscountType(discount_type)
    if kind is DiscountType.FIXED:
        cost = value
    elif kind in (DiscountType.PERCENT, DiscountType.EARLY_ACCESS):
        cost = max(min_order, aov) * value // 100
    else:
        cost = 0
    if max_discount is not None:
        cost = min(cost, max_discount)
    return cost + shipping_cost(guardrail, discount_type, free_shipping) + gift_cost


def offer_cost(offer: Offer, aov: int, guardrail: GuardrailSettings) -> int:
    return unit_cost(
        str(offer.discount_type),
        offer.value,
        offer.min_order,
        offer.max_discount,
        aov,
        free_shipping=offer.free_shipping,
        guardrail=guardrail,
        gift_cost=offer.gift_cost,
    )


@dataclass(frozen=True, slots=True)
class BudgetState:
    budget: int  # 0 = unlimited
    spent: int
    average_order_value: int

    @property
    def left(self) -> int | None:
        return None if not self.budget else max(self.budget - self.spent, 0)


def budget_of(staff: Staff, defaults: StaffSettings) -> int:
    """The person's monthly budget: none for owners, else their own, else the shop's."""
    if staff.role is Role.OWNER:
        return 0
    if staff.monthly_budget is not None:
        return staff.monthly_budget
    return defaults.monthly_budget


async def spent(
    session: AsyncSession,
    telegram_id: int,
    *,
    since: datetime,
    aov: int,
    guardrail: GuardrailSettings,
) -> int:
    """Cost of the codes this person issued since `since`, grouped by offer shape so the
    work is one aggregate query whatever the number of codes (bulk runs included)."""
    revoked_unused = and_(PromoCode.status == CodeStatus.REVOKED, PromoCode.used_count == 0)
    shape = (
        PromoCode.discount_type,
        PromoCode.discount_value,
        PromoCode.min_order,
        PromoCode.max_discount,
        PromoCode.free_shipping,
        PromoCode.gift_cost,
    )
    rows = await session.execute(
        select(*shape, func.count())
        .where(
            PromoCode.issued_by == telegram_id,
            PromoCode.created_at >= since,
            not_(revoked_unused),
        )
        .group_by(*shape)
    )
    return sum(
        unit_cost(kind, value, minimum, cap, aov, free_shipping=fs, guardrail=guardrail,
                  gift_cost=gift or 0) * n
        for kind, value, minimum, cap, fs, gift, n in rows
    )


async def state(
    session: AsyncSession, staff: Staff, *, settings: Settings, now: datetime
) -> BudgetState:
    aov, _source = await average_order_value(session, settings.guardrail, now=now)
    used = await spent(
        session,
        staff.telegram_id,
        since=month_start(now, settings.shop.zone),
        aov=aov,
        guardrail=settings.guardrail,
    )
    return BudgetState(budget_of(staff, settings.staff), used, aov)


async def ensure_within_budget(
    session: AsyncSession,
    staff: Staff,
    offer: Offer,
    count: int,
    *,
    settings: Settings,
    now: datetime,
) -> BudgetState:
    """Refuse when `count` codes of `offer` would take the manager over their budget,
    with the numbers for the message. The manager's row is locked first, so two issues
    at once on PostgreSQL cannot both spend the last of a budget (SQLite serialises
    writers anyway)."""
    await session.execute(
        select(Manager.telegram_id)
        .where(Manager.telegram_id == staff.telegram_id)
        .with_for_update()
    )
    current = await state(session, staff, settings=settings, now=now)
    requested = offer_cost(offer, current.average_order_value, settings.guardrail) * count
    if current.budget and current.spent + requested > current.budget:
        raise DomainError(
            ErrorCode.BUDGET,
            "over the monthly discount budget",
            budget=current.budget,
            spent=current.spent,
            requested=requested,
            left=current.left or 0,
        )
    return current
