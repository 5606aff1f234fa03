"""Rewards for actions the shop reports (`POST /api/v1/events/action`): an app installed,
or any action the shop names in `PROMOBOT_ACTION_REWARDS` (`newsletter:3`), each with
its offer — the playbook's "codes for actions".

A manager may set an action's reward in the bot (`/campaign new`, kind "rewarded
action": the action's name and an offer): the newest active campaign of kind `action`
for that name wins over the settings, its codes count in that campaign's results, and
pausing or stopping it gives the action back to the settings (or to no reward). The
campaign's offer is used as it is (its days default to the settings'); it has no
variants or holdout: the shop promised the reward to whoever does the action.

Paid once per (customer, action, ref): `ref` tells two occurrences of an action apart
(one app install per device, say); a repeated report, a retry or a second instance gets
the reward already paid back, never a second one (`action_rewards`, unique on the three,
claimed by INSERT … ON CONFLICT DO NOTHING). At most `PROMOBOT_ACTION_REWARD_MONTHLY_CAP`
rewards a calendar month (the shop's time zone) per customer: the customer's row is
locked while their month is counted, so two reports at once cannot both take the last
place. Like the other rewards it is earned, so it reaches customers who declined
promotions and the global holdout, as a service message through the outbox; an offer
the customer's tier leaves no room for under the margin guardrail pays nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import month_start
from bot.config import Settings
from bot.db.dialect import insert_ignoring_conflict
from bot.db.models import (
    ActionReward,
    Campaign,
    CampaignKind,
    CampaignStatus,
    CodeSource,
    Customer,
    PromoCode,
)
from bot.delivery.outbox import Reason, enqueue
from bot.promo.codes.issuing import headroom, issue_code
from bot.promo.codes.offers import Offer, rung_offer
from bot.promo.errors import DomainError, ErrorCode

rewards_table = ActionReward.__table__


class ActionOutcome(StrEnum):
    REWARDED = "rewarded"
    # This (customer, action, ref) was paid before: the same code again.
    ALREADY = "already"
    CAPPED = "capped"
    # With the customer's tier, the offer would pass the margin guardrail.
    NO_ROOM = "no_room"


@dataclass(frozen=True, slots=True)
class ActionResult:
    outcome: ActionOutcome
    code: PromoCode | None = None


@dataclass(frozen=True, slots=True)
class ActionOffer:
    offer: Offer
    # The manager's campaign that set it; None: the settings'.
    campaign_id: int | None = None


async def action_campaign(session: AsyncSession, action: str) -> Campaign | None:
    """The newest active campaign that rewards this action. The active action campaigns
    are a handful, so their params are read here rather than matched in JSON by SQL
    (which the two databases spell differently)."""
    found = await session.scalars(
        select(Campaign).where(Campaign.kind == CampaignKind.ACTION,
                               Campaign.status == CampaignStatus.ACTIVE)
        .order_by(Campaign.id.desc()))
    return next((c for c in found if (c.params or {}).get("action") == action), None)


async def action_offer(session: AsyncSession, settings: Settings, action: str) -> ActionOffer:
    """The action's reward: a manager's campaign's, else the settings'."""
    rewards = settings.rewards
    campaign = await action_campaign(session, action)
    if campaign is not None and (campaign.offer or {}).get("discount_type"):
        data = {"valid_days": rewards.action_valid_days, "currency": settings.shop.currency,
                **{k: v for k, v in campaign.offer.items() if v is not None}}
        return ActionOffer(Offer.from_json(data), campaign.id)
    rung = rewards.action_rewards.get(action)
    if rung is None:
        raise DomainError(ErrorCode.UNKNOWN_ACTION, f"no reward for {action!r}", action=action)
    return ActionOffer(rung_offer(rung, min_order=0, valid_days=rewards.action_valid_days,
                                  currency=settings.shop.currency))


async def _paid(session: AsyncSession, customer_id: int, action: str, ref: str
                ) -> ActionResult | None:
    code_id = await session.scalar(select(rewards_table.c.code_id).where(
        rewards_table.c.customer_id == customer_id, rewards_table.c.action == action,
        rewards_table.c.ref == ref))
    if code_id is None:
        return None
    return ActionResult(ActionOutcome.ALREADY, await session.get(PromoCode, code_id))


async def reward_action(session: AsyncSession, customer: Customer, action: str, ref: str, *,
                        settings: Settings, now: datetime) -> ActionResult:
    """Pay the action's reward (not committed) unless it was paid, the month's cap is
    reached or the guardrail leaves no room."""
    given = await action_offer(session, settings, action)
    offer = given.offer
    if (paid := await _paid(session, customer.id, action, ref)) is not None:
        return paid
    # The month's count and the claim below, one customer at a time.
    await session.execute(select(Customer.id).where(Customer.id == customer.id)
                          .with_for_update())
    cap = settings.rewards.action_monthly_cap
    if cap:
        this_month = await session.scalar(select(func.count()).select_from(rewards_table).where(
            rewards_table.c.customer_id == customer.id,
            rewards_table.c.created_at >= month_start(now, settings.shop.zone)))
        if (this_month or 0) >= cap:
            return ActionResult(ActionOutcome.CAPPED)
    if not (await headroom(session, settings, now=now)).allows(offer, customer):
        return ActionResult(ActionOutcome.NO_ROOM)
    claimed = await session.execute(insert_ignoring_conflict(
        session, rewards_table, customer_id=customer.id, action=action, ref=ref,
        created_at=now))
    if claimed.rowcount != 1:
        return await _paid(session, customer.id, action, ref) or ActionResult(
            ActionOutcome.ALREADY)
    code = await issue_code(session, offer, source=CodeSource.ACTION, now=now,
                            customer_id=customer.id, length=settings.shop.code_length,
                            expires_on_delivery=True, campaign_id=given.campaign_id)
    await session.execute(update(rewards_table).where(
        rewards_table.c.customer_id == customer.id, rewards_table.c.action == action,
        rewards_table.c.ref == ref).values(code_id=code.id))
    await enqueue(session, dedupe_key=f"action:{code.id}", customer_id=customer.id,
                  reason=Reason.ACTION_REWARD, promotional=False, code_id=code.id, due_at=now,
                  payload={"action": action}, campaign_id=given.campaign_id)
    return ActionResult(ActionOutcome.REWARDED, code)
