"""Campaign results: the funnel, money, and treatment vs holdout.

For one campaign (or all) over a period (assignments, messages and redemptions since
`since`):
- sent: messages that left the outbox (delivered + failed + unreachable); delivered:
  those Telegram accepted;
- redeemed: uses of the codes in scope that were not released (cancelled orders give
  theirs back); redemption rate: redeemed codes / codes delivered;
- revenue: totals of the orders those uses were on; discount cost: their discounts;
  margin after discount: revenue × the shop's margin rate (net profit per order ÷
  average order value, the guardrail's numbers) − discount cost;
- repeat-purchase rate: assigned customers who ordered after their assignment;
  treatment vs holdout, uplift = difference of the two rates, with a 95 % interval
  from the normal approximation for a difference of proportions.
Everything is a handful of grouped queries; nothing loads rows per customer.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import GuardrailSettings
from bot.db.models import (
    CampaignAssignment,
    Delivery,
    DeliveryStatus,
    Order,
    OrderStatus,
    PromoCode,
    Redemption,
)
from bot.promo.codes.guardrail import average_order_value

Z95 = 1.959963984540054


@dataclass(frozen=True, slots=True)
class Group:
    customers: int
    buyers: int
    revenue: int

    @property
    def rate(self) -> float | None:
        return self.buyers / self.customers if self.customers else None


@dataclass(frozen=True, slots=True)
class Uplift:
    difference: float
    low: float
    high: float


def uplift(treatment: Group, holdout: Group) -> Uplift | None:
    """Difference of repeat-purchase rates with its 95 % interval (None without data)."""
    p1, p0 = treatment.rate, holdout.rate
    if p1 is None or p0 is None:
        return None
    se = math.sqrt(p1 * (1 - p1) / treatment.customers + p0 * (1 - p0) / holdout.customers)
    diff = p1 - p0
    # A difference of proportions lies in [-1, 1]; small groups can push the normal
    # approximation past that.
    return Uplift(diff, max(diff - Z95 * se, -1.0), min(diff + Z95 * se, 1.0))


@dataclass(frozen=True, slots=True)
class Stats:
    campaign_id: int | None
    since: datetime
    until: datetime
    sent: int
    delivered: int
    codes_delivered: int
    redeemed: int
    redeemed_codes: int
    revenue: int
    discount_cost: int
    margin_rate: float
    treatment: Group
    holdout: Group

    @property
    def redemption_rate(self) -> float | None:
        return self.redeemed_codes / self.codes_delivered if self.codes_delivered else None

    @property
    def repeat_rate(self) -> float | None:
        return self.treatment.rate

    @property
    def margin(self) -> int:
        return round(self.revenue * self.margin_rate) - self.discount_cost

    @property
    def uplift(self) -> Uplift | None:
        return uplift(self.treatment, self.holdout)


async def _groups(session: AsyncSession, campaign_id: int | None, since: datetime,
                  until: datetime) -> tuple[Group, Group]:
    a = CampaignAssignment
    scope = [a.assigned_at >= since, a.assigned_at <= until]
    if campaign_id is not None:
        scope.append(a.campaign_id == campaign_id)
    sizes = dict((await session.execute(
        select(a.is_holdout, func.count()).where(*scope).group_by(a.is_holdout))).all())
    bought = {holdout: (buyers, revenue or 0) for holdout, buyers, revenue in (
        await session.execute(
            select(a.is_holdout, func.count(distinct(a.id)),
                   func.sum(Order.total - Order.returned_amount))
            .join(Order, and_(Order.customer_id == a.customer_id,
                              Order.placed_at > a.assigned_at, Order.placed_at <= until,
                              Order.status != OrderStatus.CANCELLED))
            .where(*scope).group_by(a.is_holdout))).all()}

    def group(holdout: bool) -> Group:
        buyers, revenue = bought.get(holdout, (0, 0))
        return Group(sizes.get(holdout, 0), buyers, int(revenue))

    return group(False), group(True)


async def campaign_stats(
    session: AsyncSession, *, campaign_id: int | None, since: datetime, until: datetime,
    guardrail: GuardrailSettings,
) -> Stats:
    d = Delivery
    scope = [d.created_at >= since, d.created_at <= until]
    if campaign_id is not None:
        scope.append(d.campaign_id == campaign_id)
    delivered_states = [DeliveryStatus.SENT]
    sent, delivered, codes_delivered = (await session.execute(
        select(
            func.count().filter(d.status.in_([DeliveryStatus.SENT, DeliveryStatus.FAILED,
                                              DeliveryStatus.UNREACHABLE])),
            func.count().filter(d.status.in_(delivered_states)),
            func.count(distinct(d.code_id)).filter(d.status.in_(delivered_states)),
        ).where(*scope)
    )).one()
    r = Redemption
    used = [r.created_at >= since, r.created_at <= until, r.released_at.is_(None)]
    if campaign_id is not None:
        used.append(PromoCode.campaign_id == campaign_id)
    redeemed, redeemed_codes, revenue, discount = (await session.execute(
        select(func.count(), func.count(distinct(r.code_id)), func.sum(r.order_total),
               func.sum(r.discount))
        .join(PromoCode, PromoCode.id == r.code_id).where(*used)
    )).one()
    aov, _source = await average_order_value(session, guardrail, now=until)
    margin_rate = guardrail.net_profit_per_order / aov if aov else 0.0
    treatment, holdout = await _groups(session, campaign_id, since, until)
    return Stats(campaign_id, since, until, sent or 0, delivered or 0, codes_delivered or 0,
                 redeemed or 0, redeemed_codes or 0, int(revenue or 0), int(discount or 0),
                 margin_rate, treatment, holdout)


def _rate(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def to_csv(stats: Stats, currency: str) -> bytes:
    """`metric,value` rows (money in minor units of `currency`), then one row per group;
    UTF-8 with a BOM for spreadsheet programs."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["metric", "value"])
    lift = stats.uplift
    rows: list[tuple[str, object]] = [
        ("campaign_id", stats.campaign_id if stats.campaign_id is not None else "all"),
        ("since", stats.since.isoformat()), ("until", stats.until.isoformat()),
        ("currency", currency),
        ("sent", stats.sent), ("delivered", stats.delivered),
        ("codes_delivered", stats.codes_delivered), ("redeemed", stats.redeemed),
        ("redemption_rate", _rate(stats.redemption_rate)),
        ("repeat_purchase_rate", _rate(stats.repeat_rate)),
        ("revenue", stats.revenue), ("discount_cost", stats.discount_cost),
        ("margin_after_discount", stats.margin),
        ("uplift", _rate(lift.difference if lift else None)),
        ("uplift_ci95_low", _rate(lift.low if lift else None)),
        ("uplift_ci95_high", _rate(lift.high if lift else None)),
    ]
    writer.writerows(rows)
    writer.writerow([])
    writer.writerow(["group", "customers", "buyers", "repeat_purchase_rate", "revenue"])
    for name, group in (("treatment", stats.treatment), ("holdout", stats.holdout)):
        writer.writerow([name, group.customers, group.buyers, _rate(group.rate),
                         group.revenue])
    return ("\ufeff" + out.getvalue()).encode("utf-8")
