"""The customer base analysed, before any discount: do customers come back, after how
long, what they buy again, how much comes back as returns, what an order is worth, how
much of the revenue discounts already take. The shop's playbook starts here: "if fewer
than 15 % come back, the problem is not discounts".

Every figure is a grouped query over the shop's counted (not cancelled) orders; nothing
loads a row per customer or per order, and the queries run side by side (`analyze`).
The intervals between a customer's orders come back as a histogram of whole days (a few
hundred rows however large the shop), and the quartiles are read off it.

Recommendations follow from the figures and are only printed, never applied: the
comeback ladder's days at the intervals by which three in four and nine in ten repeat
orders have come (a customer silent longer is late by the shop's own measure), and the
guardrail's average order from the measured one.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import Integer, case, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import ComebackSettings
from bot.db.dialect import day_number
from bot.db.engine import Database
from bot.db.models import Customer, Order, OrderItem, OrderStatus
from bot.promo.codes.guardrail import AOV_WINDOW_DAYS

T = TypeVar("T")
# Below this share of customers coming back, discounts are not the problem.
LOW_REPEAT_SHARE = Decimal("0.15")
# How many categories the analysis names.
TOP_CATEGORIES = 8
_RETURNED = (OrderStatus.RETURNED, OrderStatus.PARTIALLY_RETURNED)


@dataclass(frozen=True, slots=True)
class Category:
    name: str
    buyers: int
    # Customers who bought it in two orders or more.
    again: int

    @property
    def share(self) -> Decimal:
        return Decimal(self.again) / self.buyers if self.buyers else Decimal(0)


@dataclass(frozen=True, slots=True)
class Intervals:
    """Days between a customer's consecutive orders, over every repeat order."""

    count: int
    p25: int | None = None
    median: int | None = None
    p75: int | None = None
    p90: int | None = None
    # (whole days, repeat orders), for the chart.
    histogram: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True, slots=True)
class BaseAnalysis:
    customers: int  # with at least one counted order
    repeat_customers: int  # with two or more
    orders: int
    returned_orders: int
    revenue: int  # counted orders' totals, minor units
    returned_amount: int
    discounts: int  # what the orders' discounts took
    average_order: int | None  # over the guardrail's window (AOV_WINDOW_DAYS)
    intervals: Intervals
    categories: tuple[Category, ...]

    @property
    def repeat_share(self) -> Decimal:
        return Decimal(self.repeat_customers) / self.customers if self.customers else Decimal(0)

    @property
    def return_rate(self) -> Decimal:
        return Decimal(self.returned_orders) / self.orders if self.orders else Decimal(0)

    @property
    def discount_share(self) -> Decimal:
        """Of what the orders were worth before their discounts."""
        gross = self.revenue + self.discounts
        return Decimal(self.discounts) / gross if gross else Decimal(0)

    @property
    def few_come_back(self) -> bool:
        return self.customers > 0 and self.repeat_share < LOW_REPEAT_SHARE


def quantile(histogram: Sequence[tuple[int, int]], share: float) -> int | None:
    """The smallest value at or below which `share` of the counted items lie."""
    total = sum(count for _value, count in histogram)
    if total == 0:
        return None
    wanted, seen = math.ceil(share * total), 0
    for value, count in histogram:
        seen += count
        if seen >= wanted:
            return value
    return histogram[-1][0]


async def _counts(session: AsyncSession) -> tuple[int, int]:
    row = (await session.execute(select(
        func.count().filter(Customer.orders_count >= 1),
        func.count().filter(Customer.orders_count >= 2),
    ))).one()
    return int(row[0] or 0), int(row[1] or 0)


async def _orders(session: AsyncSession) -> tuple[int, int, int, int, int]:
    row = (await session.execute(
        select(func.count(), func.count().filter(Order.status.in_(_RETURNED)),
               func.coalesce(func.sum(Order.total), 0),
               func.coalesce(func.sum(Order.returned_amount), 0),
               func.coalesce(func.sum(Order.discount), 0))
        .where(Order.status != OrderStatus.CANCELLED)
    )).one()
    return tuple(int(value) for value in row)  # type: ignore[return-value]


async def _average(session: AsyncSession, now: datetime) -> int | None:
    average = await session.scalar(
        select(func.avg(Order.total)).where(
            Order.placed_at >= now - timedelta(days=AOV_WINDOW_DAYS), Order.placed_at <= now,
            Order.status != OrderStatus.CANCELLED))
    return None if average is None else int(Decimal(average).to_integral_value())


async def _intervals(session: AsyncSession) -> Intervals:
    day = day_number(session, Order.placed_at)
    previous = func.lag(day).over(partition_by=Order.customer_id,
                                  order_by=(Order.placed_at, Order.id))
    gaps = (select((day - previous).label("days"))
            .where(Order.status != OrderStatus.CANCELLED).subquery())
    whole = cast(func.floor(gaps.c.days), Integer)
    rows = (await session.execute(
        select(whole, func.count()).where(gaps.c.days.is_not(None)).group_by(whole)
        .order_by(whole)
    )).all()
    histogram = tuple((int(days), int(count)) for days, count in rows)
    return Intervals(sum(count for _days, count in histogram),
                     *(quantile(histogram, share) for share in (0.25, 0.5, 0.75, 0.9)),
                     histogram=histogram)


async def _categories(session: AsyncSession) -> tuple[Category, ...]:
    per_customer = (
        select(Order.customer_id, OrderItem.category,
               func.count(func.distinct(Order.id)).label("orders"))
        .join(Order, Order.id == OrderItem.order_id)
        .where(Order.status != OrderStatus.CANCELLED, OrderItem.category.is_not(None))
        .group_by(Order.customer_id, OrderItem.category)
        .subquery()
    )
    buyers = func.count().label("buyers")
    rows = (await session.execute(
        select(per_customer.c.category, buyers,
               func.sum(case((per_customer.c.orders >= 2, 1), else_=0)))
        .group_by(per_customer.c.category)
        .order_by(buyers.desc(), per_customer.c.category)
        .limit(TOP_CATEGORIES)
    )).all()
    return tuple(Category(name, int(count), int(again or 0)) for name, count, again in rows)


async def analyze(db: Database, now: datetime) -> BaseAnalysis:
    """The analysis as of `now`. Its reads are independent and the larger ones each scan
    every order, so they run side by side, each in a read session of its own: on a
    million customers the intervals' and the categories' scans take seconds each, and
    the machine has a core for each."""
    async def read(job: Callable[..., Awaitable[T]], *args: Any) -> T:
        async with db.read_session() as session:
            return await job(session, *args)

    (customers, repeat), figures, average, intervals, categories = await asyncio.gather(
        read(_counts), read(_orders), read(_average, now), read(_intervals),
        read(_categories))
    orders, returned, revenue, returned_amount, discounts = figures
    return BaseAnalysis(customers, repeat, orders, returned, revenue, returned_amount,
                        discounts, average, intervals, categories)


@dataclass(frozen=True, slots=True)
class Recommendation:
    """Settings lines to consider; none is applied."""

    variables: dict[str, str]


def recommend(analysis: BaseAnalysis, comeback: ComebackSettings) -> Recommendation:
    """The comeback ladder's days where the repeat orders say a customer is late (its
    rungs' offers kept), and the guardrail's average order as measured."""
    variables: dict[str, str] = {}
    first, last = analysis.intervals.p75, analysis.intervals.p90
    if first is not None and last is not None and len(comeback.ladder) >= 1:
        # After the "new but silent" step, which comes first.
        days = [max(_round_days(first), comeback.new_silent_days + 5)]
        if len(comeback.ladder) >= 2:
            days.append(max(_round_days(last), days[0] + 5))
        while len(days) < len(comeback.ladder):
            days.append(days[-1] + 30)
        variables["PROMOBOT_COMEBACK_LADDER"] = ",".join(
            f"{day}:{rung.percent}{'+fs' if rung.free_shipping else ''}"
            for day, rung in zip(days, comeback.ladder, strict=True))
    if analysis.average_order:
        variables["PROMOBOT_GUARDRAIL_AVERAGE_ORDER_VALUE"] = str(analysis.average_order)
    return Recommendation(variables)


def _round_days(days: int) -> int:
    """To the nearest five days (a ladder of 47 and 93 days reads as noise), at least 5."""
    return max(5, int(5 * round(days / 5)))

