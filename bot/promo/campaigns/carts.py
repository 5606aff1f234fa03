"""Abandoned carts: after a delay, a small code limited to the items left in the cart.

Each cart is decided once (`handled_at`, claimed by a conditional UPDATE): a code and a
message, the holdout of the `auto:cart` campaign (nothing, but counted), or nothing
because the customer ordered since, asked for no promotions or cannot be reached.
Carts older than `cart_max_age_hours` are left alone: the moment has passed. A cart
campaign of a manager's decides them with its own offer (still limited to the cart's
items) when it runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.dialect import insert_ignoring_conflict
from bot.db.models import (
    AbandonedCart,
    Campaign,
    CampaignAssignment,
    CodeSource,
    Customer,
    DiscountType,
)
from bot.delivery.outbox import Reason, enqueue
from bot.promo.campaigns.audience import admit, audience, batches
from bot.promo.campaigns.builtin import open_job_campaign, own_offer, own_words
from bot.promo.campaigns.claims import guardrail_ok, recorded_arm
from bot.promo.campaigns.context import Context, RunResult
from bot.promo.campaigns.experiments import Arm, Design
from bot.promo.campaigns.global_holdout import without_members
from bot.promo.codes.issuing import Headroom, issue_code
from bot.promo.codes.offers import Offer

carts = AbandonedCart.__table__
assignments = CampaignAssignment.__table__


def cart_offer(ctx: Context, arm: Arm, skus: tuple[str, ...] = (),
               base: Mapping[str, Any] | None = None) -> Offer:
    """The settings' small percent on these SKUs, unless the campaign (`base`) or its
    variant has an offer of its own (`builtin.own_offer`); always limited to the cart's
    items."""
    rewards = ctx.settings.rewards
    default = Offer(DiscountType.PERCENT, value=rewards.cart_percent,
                    valid_days=rewards.cart_valid_days, currency=ctx.settings.shop.currency)
    data = own_offer({**(base or {}), **arm.offer}, default).to_json()
    data["include_skus"] = list(skus)
    return Offer.from_json(data)


async def sticky_arm(
    session: AsyncSession, campaign_id: int, split: Design, customer_id: int, now: Any
) -> Arm:
    """The customer's arm in the campaign: recorded on first use, with the chances the
    reports weigh it by, the same ever after."""
    arm = split.choose(campaign_id, customer_id)
    await session.execute(insert_ignoring_conflict(
        session, assignments, campaign_id=campaign_id, customer_id=customer_id,
        variant_id=arm.variant_id, is_holdout=arm.is_holdout, step=0, assigned_at=now,
        escalated=False, propensity=split.propensity(arm), holdout_share=split.holdout_share,
    ))
    recorded = (await session.execute(
        select(assignments.c.variant_id, assignments.c.is_holdout)
        .where(assignments.c.campaign_id == campaign_id,
               assignments.c.customer_id == customer_id)
    )).one()
    return recorded_arm(split, recorded.variant_id, recorded.is_holdout, campaign_id,
                        customer_id)


async def offer_for_carts(ctx: Context, campaign_id: int | None = None) -> RunResult:
    """Decide each cart whose delay has passed: a code and a message, or why not. The
    built-in `auto:cart` campaign decides them, or campaign `campaign_id` (a cart
    campaign of a manager's) with its own offer and variants."""
    result = RunResult(kind="cart", campaign_id=campaign_id)
    if ctx.settings.rewards.cart_delay_hours <= 0:
        return result
    opened = await open_job_campaign(ctx, "cart", campaign_id, result)
    if opened is None:
        return result
    campaign, split = opened
    offers = [cart_offer(ctx, arm, base=campaign.offer) for arm in split.arms]
    room = await guardrail_ok(ctx, offers, result)
    if room is None:
        return result
    async for session, rows in batches(ctx, _due_carts(ctx), AbandonedCart.id):
        for row in rows:
            await _decide(session, ctx, row, campaign, split, room, result)
    return result


def _due_carts(ctx: Context) -> Select[Any]:
    """Undecided carts past the delay and not yet past `cart_max_age_hours`."""
    rewards = ctx.settings.rewards
    query = select(Customer.id).join(AbandonedCart, AbandonedCart.customer_id == Customer.id).where(
        AbandonedCart.handled_at.is_(None),
        AbandonedCart.code_id.is_(None),
        AbandonedCart.recovered_order_id.is_(None),
        AbandonedCart.created_at <= ctx.now - timedelta(hours=rewards.cart_delay_hours),
        AbandonedCart.created_at > ctx.now - timedelta(hours=rewards.cart_max_age_hours),
    )
    query = without_members(query, ctx.settings.policy.global_holdout)
    return audience(query, AbandonedCart.items, AbandonedCart.created_at.label("cart_at"),
                    Customer.last_order_at, key=AbandonedCart.id)


async def _decide(
    session: AsyncSession, ctx: Context, row: Any, campaign: Campaign, split: Design,
    room: Headroom, result: RunResult,
) -> None:
    """Claim one cart (a run that loses the claim leaves it), then give it its code and
    message unless the customer bought since, cannot be told, is in the holdout, or has a
    tier that leaves the offer no room."""
    result.audience += 1
    campaign_id = campaign.id
    claimed = await session.execute(
        update(carts).where(carts.c.id == row.batch_key, carts.c.handled_at.is_(None))
        .values(handled_at=ctx.now)
    )
    if claimed.rowcount != 1:
        result.taken += 1
        return
    if row.last_order_at is not None and row.last_order_at >= row.cart_at:
        result.held += 1  # bought since: the cart did its job
        return
    if not admit(row, result):
        return
    arm = await sticky_arm(session, campaign_id, split, row.id, ctx.now)
    if arm.is_holdout:
        result.holdout += 1
        return
    skus = tuple(dict.fromkeys(str(item["sku"]) for item in row.items or ()))
    offer = cart_offer(ctx, arm, skus, base=campaign.offer)
    if not room.allows(offer, row):
        result.no_room += 1
        return
    code = await issue_code(
        session, offer, source=CodeSource.CART, now=ctx.now,
        customer_id=row.id, campaign_id=campaign_id, variant_id=arm.variant_id,
        length=ctx.settings.shop.code_length, expires_on_delivery=True,
    )
    await session.execute(
        update(carts).where(carts.c.id == row.batch_key).values(code_id=code.id)
    )
    result.issued += 1
    queued = await enqueue(
        session, dedupe_key=f"cart:{row.batch_key}", customer_id=row.id,
        reason=Reason.CART, code_id=code.id, campaign_id=campaign_id,
        due_at=ctx.now, payload={"items": len(row.items or ()),
                                 **own_words(campaign, row, ctx.settings.shop.name)},
    )
    result.queued += queued is not None
