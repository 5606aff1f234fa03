"""The standing global holdout: a share of customers who never get promotions
(`PROMOBOT_GLOBAL_HOLDOUT`, percent), so that the whole program can be measured against
them, and that measurement.

Who is in it is a function of the customer's id alone, the same in Python and in SQL:
Knuth's multiplicative hash, id × 2654435761 mod 2³², below the share of 2³². Consecutive
ids spread evenly over that range, so the holdout is a fair slice of every month's new
customers; raising the share keeps everybody who was in it, lowering it lets the edge go.

Promotions are what campaigns send: broadcasts, the comeback ladder, abandoned carts. What
the shop's published terms promise for something the customer did (a review's or an
invitation's reward, a loyalty level) and codes staff hand out themselves still reach
them: withholding those would break the terms, not measure the program.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Float, Select, case, cast, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Customer, Order, OrderStatus, Redemption
from bot.promo.campaigns.confidence import Effect, Moments, effect

_MULTIPLIER = 2654435761
_RANGE = 2**32


def _threshold(percent: float) -> int:
    return int(percent / 100 * _RANGE)


def is_member(customer_id: int, percent: float) -> bool:
    return (customer_id * _MULTIPLIER) % _RANGE < _threshold(percent)


def member(customer_id: Any, percent: float) -> Any:
    """SQL: the customer (an id column) is in the global holdout of `percent`."""
    hashed = (customer_id * literal(_MULTIPLIER, BigInteger)) % literal(_RANGE, BigInteger)
    return hashed < literal(_threshold(percent), BigInteger)


def without_members(query: Select[Any], percent: float) -> Select[Any]:
    """A campaign's audience query without the global holdout's customers."""
    return query if percent <= 0 else query.where(~member(Customer.id, percent))


@dataclass(frozen=True, slots=True)
class Side:
    """The holdout's or the rest's customers over the period: how many, how many bought,
    their revenue and margin after discount, and the outcomes' moments."""

    customers: int
    buyers: int
    revenue: int
    margin: float
    bought: Moments
    revenue_moments: Moments
    margin_moments: Moments

    @property
    def rate(self) -> float | None:
        return self.buyers / self.customers if self.customers else None


@dataclass(frozen=True, slots=True)
class Program:
    """What every promotion together brought over the period, measured against the
    global holdout: the difference per customer, times the customers who could get
    promotions, with always-valid 95 % intervals."""

    percent: float
    holdout: Side
    rest: Side
    uplift: Effect | None
    incremental_revenue: Effect | None
    incremental_margin: Effect | None


def _moments(n: int, total: float, squares: float) -> Moments:
    return Moments(n, n, n, total, total, squares)


async def program(session: AsyncSession, *, since: datetime, until: datetime, percent: float,
                  margin_rate: float) -> Program:
    """Every customer known at `until`, members of the holdout against the rest: orders
    placed in the period (not cancelled, net of returns) and the discounts they used."""
    orders = (
        select(Order.customer_id.label("customer_id"),
               func.sum(Order.total - Order.returned_amount).label("revenue"))
        .where(Order.placed_at >= since, Order.placed_at <= until,
               Order.status != OrderStatus.CANCELLED, Order.customer_id.is_not(None))
        .group_by(Order.customer_id).subquery())
    costs = (
        select(Redemption.customer_id.label("customer_id"),
               func.sum(Redemption.cost).label("cost"))
        .where(Redemption.created_at >= since, Redemption.created_at <= until,
               Redemption.released_at.is_(None))
        .group_by(Redemption.customer_id).subquery())
    revenue = cast(func.coalesce(orders.c.revenue, 0), Float)
    margin = revenue * literal(margin_rate, Float) - cast(func.coalesce(costs.c.cost, 0), Float)
    bought = case((orders.c.customer_id.is_not(None), 1), else_=0)
    per_customer = (
        select(member(Customer.id, percent).label("held"), bought.label("bought"),
               revenue.label("revenue"), margin.label("margin"))
        .select_from(Customer)
        .outerjoin(orders, orders.c.customer_id == Customer.id)
        .outerjoin(costs, costs.c.customer_id == Customer.id)
        .where(Customer.created_at <= until).subquery())
    p = per_customer.c
    rows = await session.execute(
        select(p.held, func.count(), func.sum(p.bought), func.sum(p.revenue),
               func.sum(p.revenue * p.revenue), func.sum(p.margin), func.sum(p.margin * p.margin))
        .group_by(p.held))
    sides = {bool(held): Side(int(n), int(buyers or 0), round(revenue_sum or 0),
                              float(margin_sum or 0),
                              _moments(int(n), float(buyers or 0), float(buyers or 0)),
                              _moments(int(n), float(revenue_sum or 0), float(revenue_sq or 0)),
                              _moments(int(n), float(margin_sum or 0), float(margin_sq or 0)))
             for held, n, buyers, revenue_sum, revenue_sq, margin_sum, margin_sq in rows}
    empty = Side(0, 0, 0, 0.0, Moments(), Moments(), Moments())
    held, rest = sides.get(True, empty), sides.get(False, empty)

    def total(found: Effect | None) -> Effect | None:
        return None if found is None else found.scaled(rest.customers)

    return Program(
        percent, held, rest,
        effect(rest.bought, held.bought, bounds=(-1.0, 1.0)),
        total(effect(rest.revenue_moments, held.revenue_moments)),
        total(effect(rest.margin_moments, held.margin_moments)),
    )
