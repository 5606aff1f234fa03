"""Segment campaigns: each customer of the segment at most once, with their arm's code.

A broadcast gives everyone its arm's offer; other kinds that go to a segment once
(`new_category`) run the same way (`run_segment`: the audience of `broadcast_query`, the
same offers and guardrail check, the pause honoured between batches) with a batch of
their own, e.g. one that changes what each customer's code is limited to.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, or_
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Campaign, CampaignAssignment, CodeSource, Customer
from bot.delivery.outbox import Reason
from bot.promo.campaigns.audience import audience, batches, none_where, reachable
from bot.promo.campaigns.builtin import open_campaign, still_active
from bot.promo.campaigns.claims import ArmOffers, claim_new, issue_and_queue, offers_by_arm
from bot.promo.campaigns.context import Context, RunResult
from bot.promo.campaigns.experiments import Arm, Design
from bot.promo.campaigns.global_holdout import without_members
from bot.promo.codes.offers import Offer
from bot.promo.customers.segments import get_segment


def broadcast_offer(campaign_offer: dict[str, Any], arm: Arm) -> Offer | None:
    """A variant's offer over the campaign's; no discount type at all = message only."""
    data = {**(campaign_offer or {}), **arm.offer}
    return Offer.from_json(data) if data.get("discount_type") else None


def broadcast_query(campaign: Campaign, ctx: Context) -> Any:
    """The campaign's segment, minus those already assigned, (by default) those who
    ordered since the campaign started — they came back without a code — and the global
    holdout."""
    params = dict(campaign.params or {})
    query = get_segment(campaign.segment or "").of_campaign(params, now=ctx.now,
                                                             tz=ctx.settings.shop.zone)
    query = query.where(none_where(
        CampaignAssignment.id,
        CampaignAssignment.campaign_id == campaign.id,
        CampaignAssignment.customer_id == Customer.id,
    ))
    if params.get("skip_ordered_since_start", True) and campaign.started_at is not None:
        query = query.where(or_(Customer.last_order_at.is_(None),
                                Customer.last_order_at < campaign.started_at))
    return without_members(query, ctx.settings.policy.global_holdout)


@dataclass(frozen=True, slots=True)
class Opened:
    """What a segment run's batches share: the campaign, its split and its checked offers."""

    ctx: Context
    campaign: Campaign
    split: Design
    offers: ArmOffers
    result: RunResult


# One batch of a segment run: its session and its reachable rows (`reachable` counted them).
Batch = Callable[[AsyncSession, list[Row[Any]]], Awaitable[None]]


async def run_segment(ctx: Context, campaign_id: int, kind: str,
                      prepare: Callable[[Opened], Awaitable[Batch]]) -> RunResult:
    """A campaign that goes to its segment once: opened, its offers checked against the
    guardrail, then the audience in batches, each handed to the batch `prepare` made (it
    claims, issues and queues), the status re-read before every batch."""
    result = RunResult(kind=kind, campaign_id=campaign_id)
    opened = await open_campaign(ctx, campaign_id, result)
    if opened is None:
        return result
    campaign, split = opened
    offers = await offers_by_arm(
        ctx, split, lambda arm: broadcast_offer(campaign.offer, arm), result
    )
    if offers is None:
        return result
    batch = await prepare(Opened(ctx, campaign, split, offers, result))
    async for session, rows in batches(ctx, audience(broadcast_query(campaign, ctx))):
        if not await still_active(session, campaign_id):
            result.status, result.message = "inactive", "paused during the run"
            return result
        await batch(session, reachable(rows, result))
    return result


async def _broadcast_batch(run: Opened) -> Batch:
    ctx, campaign, result = run.ctx, run.campaign, run.result
    message = {"ru": campaign.message_ru, "en": campaign.message_en}

    async def batch(session: AsyncSession, rows: list[Row[Any]]) -> None:
        claims = await claim_new(session, campaign.id, run.split, rows, step=0, now=ctx.now,
                                 result=result)
        await issue_and_queue(
            session, ctx, campaign, claims, offers=run.offers, source=CodeSource.CAMPAIGN,
            reason=Reason.CAMPAIGN, dedupe=lambda row: f"campaign:{campaign.id}:{row.id}",
            payload=lambda row: {"message": message, "category": row.favourite_category,
                                 "name": row.name, "shop": ctx.settings.shop.name},
            result=result,
        )

    return batch


async def run_broadcast(ctx: Context, campaign_id: int) -> RunResult:
    """A segment campaign: each customer at most once, with their arm's code (if any)."""
    return await run_segment(ctx, campaign_id, "broadcast", _broadcast_batch)
