"""Reminders and loyalty notices: once each, keyed by what they are about.

- Expiry: one message `reminder_hours_before` a personal code expires, if it is still
  unused and has existed at least that long (a one-day code needs no reminder).
- Tier up: congratulations once per customer and tier reached, for customers whose
  totals changed lately (a tier reached long ago is not news).
- Nudge: "almost the next tier" once per customer and tier, at `tier_nudge_percent` of
  the next threshold.

Both are news only when orders placed since the customer linked Telegram carried them
over the line: without those orders they would still be below it. An imported history,
the demo shop, or a customer who links with a tier reached years ago gets no notice; the
first order after linking that moves them does. Linking needs the bot running, so this
also means "since the job first ran", without a record of when that was.

"Once" is the outbox's dedupe key (`expiry:<code>`, `tier_up:<customer>:<tier>`, ...);
the selections skip keys already queued so that a run does not redo old work.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from sqlalchemy import exists, func, literal, or_, select

from bot.db.models import CodeStatus, Customer, Delivery, Order, PromoCode, TelegramAccount
from bot.delivery.outbox import Reason, enqueue_many
from bot.promo.campaigns.audience import audience, batches, queued_key, reachable
from bot.promo.campaigns.context import Context, RunResult
from bot.promo.customers.tiers import ORDERS, Tier, tiers

# A reminder closer than this to the deadline is not worth sending.
MIN_LEAD = timedelta(hours=2)
# Tier-up: customers whose row changed in this window (an order moved their totals).
TIER_LOOKBACK = timedelta(days=2)


async def remind_expiring(ctx: Context) -> RunResult:
    result = RunResult(kind="expiry_reminder")
    hours = ctx.settings.rewards.reminder_hours_before
    if hours <= 0:
        return result
    lead = timedelta(hours=hours)
    query = select(Customer.id).join(PromoCode, PromoCode.customer_id == Customer.id).where(
        PromoCode.status == CodeStatus.ACTIVE,
        PromoCode.expires_at > ctx.now + MIN_LEAD,
        PromoCode.expires_at <= ctx.now + lead,
        PromoCode.created_at <= ctx.now - lead,
        or_(PromoCode.usage_limit.is_(None), PromoCode.used_count < PromoCode.usage_limit),
        ~exists().where(Delivery.dedupe_key == queued_key("expiry:", PromoCode.id)),
    )
    rows_query = audience(query, PromoCode.campaign_id, key=PromoCode.id)
    async for session, rows in batches(ctx, rows_query, PromoCode.id):
        result.queued += await enqueue_many(session, [
            {"dedupe_key": f"expiry:{row.batch_key}", "customer_id": row.id,
             "payload": {}, "code_id": row.batch_key, "campaign_id": row.campaign_id}
            for row in reachable(rows, result)
        ], reason=Reason.EXPIRY_REMINDER, due_at=ctx.now)
    return result


def _value_column(ctx: Context) -> Any:
    return (Customer.orders_count if ctx.settings.loyalty.basis == ORDERS
            else Customer.net_spend)


def _since_linked(ctx: Context) -> Any:
    """What the orders placed since the customer linked add to the tier's basis, as a
    correlated subquery of a query over customers joined to their Telegram account."""
    added = (func.count() if ctx.settings.loyalty.basis == ORDERS
             else func.coalesce(func.sum(Order.counted_spend), 0))
    return (
        select(added)
        .where(Order.customer_id == Customer.id, Order.counted_in_orders,
               Order.placed_at >= TelegramAccount.linked_at)
        .correlate(Customer, TelegramAccount)
        .scalar_subquery()
    )


def _crossed(ctx: Context, value: Any, line: int) -> Any:
    """Customers whose orders since linking took them from below `line` to it or above
    (recent changes only: a customer untouched lately has no news)."""
    return (
        select(Customer.id)
        .join(TelegramAccount, TelegramAccount.customer_id == Customer.id)
        .where(value >= line, Customer.updated_at >= ctx.now - TIER_LOOKBACK,
               Customer.last_order_at >= TelegramAccount.linked_at,
               value - _since_linked(ctx) < line)
    )


def _tier_payload(ctx: Context, tier: Tier, value: int | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {"tier": tier.index, "percent": tier.percent,
                               "free_shipping": tier.free_shipping}
    if value is not None:
        payload.update(left=tier.threshold - value, basis=ctx.settings.loyalty.basis,
                       currency=ctx.settings.shop.currency)
    return payload


async def tier_notices(ctx: Context) -> RunResult:
    """Congratulations on a tier reached, and nudges towards the next one."""
    result = RunResult(kind="tiers")
    ladder = tiers(ctx.settings.loyalty)
    value = _value_column(ctx)
    share = ctx.settings.rewards.tier_nudge_percent
    for position, tier in enumerate(ladder):
        upper = ladder[position + 1].threshold if position + 1 < len(ladder) else None
        reached = _crossed(ctx, value, tier.threshold).where(
            ~exists().where(
                Delivery.dedupe_key == queued_key("tier_up:", Customer.id, literal(tier.index))
            ),
        )
        if upper is not None:
            reached = reached.where(value < upper)
        await _notify(ctx, reached, Reason.TIER_UP, "tier_up", tier, result)
        if share <= 0:
            continue
        floor = math.ceil(tier.threshold * share / 100)
        almost = _crossed(ctx, value, floor).where(
            value < tier.threshold,
            ~exists().where(
                Delivery.dedupe_key == queued_key("tier_nudge:", Customer.id, literal(tier.index))
            ),
        )
        await _notify(ctx, almost, Reason.TIER_NUDGE, "tier_nudge", tier, result,
                      value=value)
    return result


async def _notify(ctx: Context, query: Any, reason: Reason, prefix: str, tier: Tier,
                  result: RunResult, *, value: Any = None) -> None:
    extra = (value.label("tier_value"),) if value is not None else ()
    async for session, rows in batches(ctx, audience(query, *extra)):
        result.queued += await enqueue_many(session, [
            {"dedupe_key": f"{prefix}:{row.id}:{tier.index}", "customer_id": row.id,
             "payload": _tier_payload(ctx, tier, row.tier_value if value is not None else None)}
            for row in reachable(rows, result)
        ], reason=reason, due_at=ctx.now)
