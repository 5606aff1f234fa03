"""Rewards for actions: asking for reviews, paying for them, and paying for referrals.

- Review ask: N days after delivery, one message per order, unless reviewed already.
- Review reward: for a review the shop reported, a code (bigger with a photo), one per
  order, never for an order that was cancelled or returned, after an optional delay.
  The code is earned by the order, so a later return revokes it (`bot.promo.shop.orders`).
- Referral: when the friend's first order was delivered and its return window has passed
  since delivery (an order not delivered yet may still come back), the friend gets a code
  and so does the referrer, at most `referral_monthly_cap` a calendar month (shop's time
  zone) and `referral_lifetime_cap` in all; a referrer over the monthly cap is paid first
  thing next month, one at the lifetime cap never for that referral (`capped`).

The built-in `auto:review` campaign pays the settings' percents; a review campaign of a
manager's pays its own offer (`builtin.own_offer`) and speaks with its own texts.

Each reward is claimed by a conditional UPDATE (review.reward_code_id, referral.status)
inside a savepoint with its code, so two runs at once pay once. Rewards are service
messages (the shopper earned them): they skip opt-out, but not a missing Telegram link
(the code is still issued and shows on the shop's account page).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Select, case, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import month_start
from bot.db.models import (
    Campaign,
    CodeSource,
    Customer,
    Delivery,
    DiscountType,
    Order,
    OrderStatus,
    Referral,
    ReferralStatus,
    Review,
)
from bot.delivery.outbox import Reason, enqueue, enqueue_many
from bot.promo.campaigns.audience import admit, audience, batches, queued_key, reachable
from bot.promo.campaigns.builtin import (
    active_builtin,
    open_job_campaign,
    own_offer,
    own_words,
)
from bot.promo.campaigns.carts import sticky_arm
from bot.promo.campaigns.claims import guardrail_ok
from bot.promo.campaigns.context import Context, RunResult
from bot.promo.campaigns.experiments import Arm
from bot.promo.codes.issuing import Headroom, issue_code
from bot.promo.codes.offers import Offer

# Deliveries older than this many days past the ask date are not asked any more.
ASK_WINDOW_DAYS = 3
_RETURNED = (OrderStatus.RETURNED, OrderStatus.PARTIALLY_RETURNED, OrderStatus.CANCELLED)


class _Taken(Exception):
    """Another run claimed the reward first: undo this one's savepoint."""


def _percent_offer(percent: int, valid_days: int, currency: str) -> Offer:
    return Offer(DiscountType.PERCENT, value=percent, valid_days=valid_days, currency=currency)


def review_offers(ctx: Context, campaign: Campaign, arm: Arm) -> tuple[Offer, Offer]:
    """The codes for a review and for one with a photo: the settings' percents, unless
    the campaign (or its variant) has an offer of its own (`builtin.own_offer`)."""
    rewards, currency = ctx.settings.rewards, ctx.settings.shop.currency
    own = {**(campaign.offer or {}), **arm.offer}
    days = rewards.review_valid_days
    return (own_offer(own, _percent_offer(rewards.review_percent, days, currency)),
            own_offer(own, _percent_offer(rewards.review_photo_percent, days, currency)))


async def ask_for_reviews(ctx: Context, campaign_id: int | None = None) -> RunResult:
    """One ask per delivered order, `review_ask_days` after delivery, naming what the
    review earns (the built-in `auto:review` campaign's, or campaign `campaign_id`'s)."""
    result = RunResult(kind="review_ask", campaign_id=campaign_id)
    days = ctx.settings.rewards.review_ask_days
    if days <= 0:
        return result
    opened = await open_job_campaign(ctx, "review", campaign_id, result)
    if opened is None:
        return result
    campaign, split = opened
    latest = ctx.now - timedelta(days=days)
    query = select(Customer.id).join(Order, Order.customer_id == Customer.id).where(
        Order.status == OrderStatus.DELIVERED,
        Order.delivered_at <= latest,
        Order.delivered_at > latest - timedelta(days=ASK_WINDOW_DAYS),
        ~exists().where(Review.order_id == Order.id),
        ~exists().where(Delivery.dedupe_key == queued_key("review_ask:", Order.id)),
    )
    rows_query = audience(query, Order.external_id.label("order_ref"), key=Order.id)
    plain, photo = review_offers(ctx, campaign, split.arms[0])
    payload = ({"percent": plain.value, "photo_percent": photo.value}
               if plain.discount_type is DiscountType.PERCENT else {})
    async for session, rows in batches(ctx, rows_query, Order.id):
        result.queued += await enqueue_many(session, [
            {"dedupe_key": f"review_ask:{row.batch_key}", "customer_id": row.id,
             "payload": {"order": row.order_ref, **payload}}
            for row in reachable(rows, result)
        ], reason=Reason.REVIEW_ASK, due_at=ctx.now, campaign_id=campaign.id)
    return result


async def reward_reviews(ctx: Context, campaign_id: int | None = None) -> RunResult:
    """A code for each reported review whose delay has passed; one per order. The
    built-in `auto:review` campaign pays with the settings' offers; campaign
    `campaign_id` with its own, per variant (its holdout gets nothing from it)."""
    result = RunResult(kind="review_reward", campaign_id=campaign_id)
    opened = await open_job_campaign(ctx, "review", campaign_id, result)
    if opened is None:
        return result
    campaign, split = opened
    offers = {arm.variant_id: review_offers(ctx, campaign, arm) for arm in split.arms}
    room = await guardrail_ok(ctx, [o for pair in offers.values() for o in pair], result)
    if room is None:
        return result
    # A plain campaign (one offer, no holdout) records no assignments, as before variants.
    split_up = len(split.arms) > 1 or split.holdout_share > 0
    async for session, rows in batches(ctx, _unrewarded_reviews(ctx), Review.id):
        for row in rows:
            arm = (await sticky_arm(session, campaign.id, split, row.id, ctx.now)
                   if split_up else split.arms[0])
            if arm.is_holdout:
                result.audience += 1
                result.holdout += 1
                continue
            plain, photo = offers[arm.variant_id]
            offer = photo if row.has_photo else plain
            if not room.allows(offer, row):
                # Left unrewarded: paid by a later run if the tier then leaves room.
                result.audience += 1
                result.no_room += 1
                continue
            await _reward_review(session, ctx, row, offer, campaign_id=campaign.id,
                                 variant_id=arm.variant_id, result=result,
                                 words=own_words(campaign, row, ctx.settings.shop.name))
    return result


def _unrewarded_reviews(ctx: Context) -> Select[Any]:
    """Reviews without a reward whose delay has passed, of delivered orders: an order
    still on its way may come back unopened, and its review is paid once it arrives."""
    delay = timedelta(hours=ctx.settings.rewards.review_delay_hours)
    query = (
        select(Customer.id)
        .join(Review, Review.customer_id == Customer.id)
        .join(Order, Order.id == Review.order_id)
        .where(
            Review.reward_code_id.is_(None),
            Review.created_at <= ctx.now - delay,
            Order.status == OrderStatus.DELIVERED,
        )
    )
    return audience(query, Review.has_photo, Order.id.label("order_id"),
                    Order.external_id.label("order_ref"), key=Review.id)


async def _reward_review(
    session: AsyncSession, ctx: Context, row: Any, offer: Offer, *, campaign_id: int,
    variant_id: int | None = None, result: RunResult, words: dict[str, Any] | None = None,
) -> None:
    """Issue the review's code and claim the review for it in one savepoint (undone if
    another run claimed it first), then tell the shopper if they can be told."""
    result.audience += 1
    told = admit(row, result, promotional=False)
    try:
        async with session.begin_nested():
            code = await issue_code(
                session, offer, source=CodeSource.REVIEW, now=ctx.now, customer_id=row.id,
                campaign_id=campaign_id, variant_id=variant_id,
                earned_by_order_id=row.order_id,
                length=ctx.settings.shop.code_length, expires_on_delivery=told,
            )
            claimed = await session.execute(
                update(Review.__table__)
                .where(Review.__table__.c.id == row.batch_key,
                       Review.__table__.c.reward_code_id.is_(None))
                .values(reward_code_id=code.id)
            )
            if claimed.rowcount != 1:
                raise _Taken
    except _Taken:
        result.taken += 1
        return
    result.issued += 1
    if not told:
        return
    queued = await enqueue(
        session, dedupe_key=f"review_reward:{row.order_id}", customer_id=row.id,
        reason=Reason.REVIEW_REWARD, promotional=False, code_id=code.id,
        campaign_id=campaign_id, due_at=ctx.now,
        payload={"order": row.order_ref, "has_photo": bool(row.has_photo), **(words or {})},
    )
    result.queued += queued is not None


async def _bind_first_orders(ctx: Context) -> None:
    """Remember each pending referral's first order, so that its return rejects the
    referral (`bot.promo.shop.orders`) and the window counts from its delivery."""
    first = (
        select(Order.id)
        .where(Order.customer_id == Referral.referee_id, Order.counted_in_orders.is_(True))
        .order_by(Order.placed_at, Order.id)
        .limit(1)
        .scalar_subquery()
    )
    async with ctx.db.session() as session:
        await session.execute(
            update(Referral)
            .where(Referral.status == ReferralStatus.PENDING, Referral.first_order_id.is_(None))
            .values(first_order_id=first)
            .execution_options(synchronize_session=False)
        )
        await session.execute(
            update(Referral)
            .where(Referral.status == ReferralStatus.PENDING,
                   exists().where(Order.id == Referral.first_order_id,
                                  Order.status.in_(_RETURNED)))
            .values(status=ReferralStatus.REJECTED)
            .execution_options(synchronize_session=False)
        )
        await session.commit()


async def _pay(
    session: AsyncSession, ctx: Context, row: Any, *, offer: Offer, room: Headroom,
    campaign_id: int, role: str, order_id: int | None, result: RunResult,
) -> None:
    """Issue one side's code and tell them (if they can be told); not committed. A side
    whose tier leaves the offer no room gets nothing; the other side is paid all the same."""
    if not room.allows(offer, row):
        result.no_room += 1
        return
    told = admit(row, result, promotional=False)
    code = await issue_code(
        session, offer, source=CodeSource.REFERRAL, now=ctx.now, customer_id=row.id,
        campaign_id=campaign_id, earned_by_order_id=order_id if role == "referee" else None,
        length=ctx.settings.shop.code_length, expires_on_delivery=told,
    )
    result.issued += 1
    if not told:
        return
    queued = await enqueue(
        session, dedupe_key=f"referral:{row.referral_id}:{role}", customer_id=row.id,
        reason=Reason.REFERRAL_REWARD, promotional=False, code_id=code.id,
        campaign_id=campaign_id, due_at=ctx.now, payload={"role": role},
    )
    result.queued += queued is not None


async def reward_referrals(ctx: Context) -> RunResult:
    """Qualify referrals whose first order passed the return window (the friend is paid),
    then pay referrers within the monthly cap."""
    result = RunResult(kind="referral")
    rewards, shop = ctx.settings.rewards, ctx.settings.shop
    campaign_id = await active_builtin(ctx, "referral", result)
    if campaign_id is None:
        return result
    offer = _percent_offer(rewards.referral_percent, rewards.referral_valid_days, shop.currency)
    room = await guardrail_ok(ctx, [offer], result)
    if room is None:
        return result
    await _bind_first_orders(ctx)
    window_end = ctx.now - timedelta(days=shop.return_window_days)
    referees = (
        select(Customer.id)
        .join(Referral, Referral.referee_id == Customer.id)
        .join(Order, Order.id == Referral.first_order_id)
        .where(Referral.status == ReferralStatus.PENDING,
               Order.status == OrderStatus.DELIVERED, Order.delivered_at <= window_end)
    )
    query = audience(referees, Referral.id.label("referral_id"), Order.id.label("order_id"),
                     key=Referral.id)
    async for session, rows in batches(ctx, query, Referral.id):
        for row in rows:
            result.audience += 1
            qualified = await session.execute(
                update(Referral.__table__)
                .where(Referral.__table__.c.id == row.referral_id,
                       Referral.__table__.c.status == ReferralStatus.PENDING)
                .values(status=ReferralStatus.QUALIFIED)
            )
            if qualified.rowcount != 1:
                result.taken += 1
                continue
            await _pay(session, ctx, row, offer=offer, room=room, campaign_id=campaign_id,
                       role="referee", order_id=row.order_id, result=result)
    await _pay_referrers(ctx, offer, room, campaign_id, result)
    return result


async def _pay_referrers(
    ctx: Context, offer: Offer, room: Headroom, campaign_id: int, result: RunResult
) -> None:
    referrers = (
        select(Customer.id)
        .join(Referral, Referral.referrer_id == Customer.id)
        .where(Referral.status == ReferralStatus.QUALIFIED)
    )
    query = audience(referrers, Referral.id.label("referral_id"), key=Referral.id)
    async for session, rows in batches(ctx, query, Referral.id):
        for row in rows:
            # The referrer's row lock makes the count and the payment one step on
            # PostgreSQL; SQLite's write lock already does.
            await session.execute(
                select(Customer.id).where(Customer.id == row.id).with_for_update()
            )
            status = await _referrer_verdict(session, ctx, row.id)
            if status is None:
                result.held += 1
                continue
            moved = await session.execute(
                update(Referral.__table__)
                .where(
                    Referral.__table__.c.id == row.referral_id,
                    Referral.__table__.c.status == ReferralStatus.QUALIFIED,
                )
                .values(
                    status=status,
                    rewarded_at=ctx.now if status is ReferralStatus.REWARDED else None,
                )
            )
            if moved.rowcount != 1:
                result.taken += 1
            elif status is ReferralStatus.CAPPED:
                result.held += 1
            else:
                await _pay(
                    session,
                    ctx,
                    row,
                    offer=offer,
                    room=room,
                    campaign_id=campaign_id,
                    role="referrer",
                    order_id=None,
                    result=result,
                )


async def _referrer_verdict(
    session: AsyncSession, ctx: Context, referrer_id: int
) -> ReferralStatus | None:
    """REWARDED within both caps; CAPPED at the lifetime cap, for good (a referral left
    qualified would be retried every run for ever); None over the monthly cap: it waits
    for next month."""
    rewards = ctx.settings.rewards
    since = month_start(ctx.now, ctx.settings.shop.zone)
    lifetime, monthly = (
        await session.execute(
            select(func.count(), func.count(case((Referral.rewarded_at >= since, 1)))).where(
                Referral.referrer_id == referrer_id, Referral.status == ReferralStatus.REWARDED
            )
        )
    ).one()
    if rewards.referral_lifetime_cap and lifetime >= rewards.referral_lifetime_cap:
        return ReferralStatus.CAPPED
    if monthly >= rewards.referral_monthly_cap:
        return None
    return ReferralStatus.REWARDED
