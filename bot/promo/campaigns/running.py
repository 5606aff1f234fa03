"""Campaign runs, what `promobot campaign run` and the scheduled jobs both call.

`run_campaign(id)` does what the schedule would: re-reads the campaign (a paused one does
nothing), selects its audience in batches, assigns variants and the holdout, checks the
offers against the margin guardrail, issues codes and queues messages. `run_target`
takes an id or a kind (`comeback`, `broadcast`, `new_category`, `review`, `cart`,
`referral`, `reminders`, `tiers`, `moments`, `leaks`: the leak watch of shared
codes). `overview` and `progress` are what `list` and `status` print.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, or_, select

from bot.db.models import (
    Campaign,
    CampaignAssignment,
    CampaignKind,
    CampaignStatus,
)
from bot.delivery.progress import Progress
from bot.delivery.progress import progress as delivery_progress
from bot.promo.campaigns.broadcast import run_broadcast
from bot.promo.campaigns.builtin import builtin_name, ensure_builtin
from bot.promo.campaigns.comeback import run_comeback
from bot.promo.campaigns.context import Context, RunResult
from bot.promo.campaigns.new_category import run_new_category

# Kinds that are not campaigns of their own but automatic jobs (see `run_target`).
JOB_KINDS = ("review", "cart", "referral", "reminders", "tiers", "moments", "leaks")
# Jobs a manager's campaign of the same kind takes over, with its offer and its split.
OWNED_JOBS = (CampaignKind.REVIEW, CampaignKind.CART)
# Campaigns of their own: each kind's run, by id.
OWN_RUNS = {
    CampaignKind.COMEBACK: run_comeback,
    CampaignKind.BROADCAST: run_broadcast,
    CampaignKind.NEW_CATEGORY: run_new_category,
}


async def run_campaign(ctx: Context, campaign_id: int) -> RunResult:
    """Run one campaign by id, whatever its kind."""
    async with ctx.db.read_session() as session:
        kind = await session.scalar(select(Campaign.kind).where(Campaign.id == campaign_id))
    if kind is None:
        return RunResult(kind="?", campaign_id=campaign_id, status="inactive",
                         message="no such campaign")
    if kind in OWN_RUNS:
        return await OWN_RUNS[kind](ctx, campaign_id)
    return await run_job(ctx, kind, campaign_id)


async def scheduled_campaigns(ctx: Context, kind: str) -> list[int]:
    """Active campaigns of a kind that run with the kind's job (those without their own
    schedule); creates the built-in comeback campaign on first use."""
    if kind == CampaignKind.COMEBACK:
        await ensure_builtin(ctx, kind)
    async with ctx.db.read_session() as session:
        return list(await session.scalars(
            select(Campaign.id).where(
                Campaign.kind == kind, Campaign.status == CampaignStatus.ACTIVE,
                or_(Campaign.schedule.is_(None), Campaign.schedule == ""),
            ).order_by(Campaign.id)
        ))


async def own_schedules(ctx: Context) -> list[tuple[int, str]]:
    """(id, crontab) of the active campaigns with a schedule of their own: the scheduler
    gives each its job."""
    async with ctx.db.read_session() as session:
        rows = await session.execute(
            select(Campaign.id, Campaign.schedule).where(
                Campaign.status == CampaignStatus.ACTIVE,
                Campaign.schedule.is_not(None), Campaign.schedule != "",
            )
        )
        return [(campaign_id, schedule) for campaign_id, schedule in rows]


async def managers_campaigns(ctx: Context, kind: str) -> list[tuple[int, str | None]]:
    """(id, schedule) of the active campaigns of a kind that a manager made."""
    async with ctx.db.read_session() as session:
        rows = await session.execute(
            select(Campaign.id, Campaign.schedule).where(
                Campaign.kind == kind, Campaign.status == CampaignStatus.ACTIVE,
                Campaign.name != builtin_name(kind),
            ).order_by(Campaign.id)
        )
        return [(campaign_id, schedule) for campaign_id, schedule in rows]


async def run_owned_job(ctx: Context, kind: str) -> RunResult:
    """The review or cart job: the managers' active campaigns of the kind without a
    schedule of their own, each with its offer; the built-in job only while there is
    none. Both at once would race for the same orders and carts (their messages are
    deduplicated by order and by cart), and the built-in offer would reach the holdout
    the manager's campaign keeps."""
    own = await managers_campaigns(ctx, kind)
    if not own:
        return await run_job(ctx, kind)
    total = RunResult(kind=kind)
    for campaign_id, schedule in own:
        if not schedule:
            total.merge(await run_job(ctx, kind, campaign_id))
    return total


async def run_kind(ctx: Context, kind: str) -> RunResult:
    """Every active campaign of a kind (comeback, broadcast, new_category), or an
    automatic job."""
    if kind in OWNED_JOBS:
        return await run_owned_job(ctx, kind)
    if kind in JOB_KINDS:
        return await run_job(ctx, kind)
    if kind not in OWN_RUNS:
        raise ValueError(f"unknown kind {kind!r}")
    total = RunResult(kind=kind)
    for campaign_id in await scheduled_campaigns(ctx, kind):
        total.merge(await run_campaign(ctx, campaign_id))
    return total


async def run_job(ctx: Context, kind: str, campaign_id: int | None = None) -> RunResult:
    """The automatic jobs: rewards, carts, reminders, tier notices and moments; a review
    or cart campaign of a manager's (`campaign_id`) runs its job with its own offer."""
    from bot.promo.campaigns import carts as cart_offers
    from bot.promo.campaigns import moments, reminders, rewards
    from bot.promo.codes import leaks

    if kind == "review":
        result = await rewards.ask_for_reviews(ctx, campaign_id)
        result.merge(await rewards.reward_reviews(ctx, campaign_id))
        return result
    if kind == "cart":
        return await cart_offers.offer_for_carts(ctx, campaign_id)
    if kind == "referral":
        return await rewards.reward_referrals(ctx)
    if kind == "reminders":
        return await reminders.remind_expiring(ctx)
    if kind == "tiers":
        return await reminders.tier_notices(ctx)
    if kind == "moments":
        return await moments.run_moments(ctx)
    if kind == "leaks":
        return await leaks.watch_codes(ctx)
    if kind == CampaignKind.ACTION:
        # Paid as the shop reports the action (`actions.reward_action`), not by a run.
        return RunResult(kind=kind, campaign_id=campaign_id,
                         message="paid as the shop reports the action")
    raise ValueError(f"unknown job {kind!r}")


async def run_target(ctx: Context, target: str) -> RunResult:
    """`promobot campaign run <id or kind>`."""
    if target.isdigit():
        return await run_campaign(ctx, int(target))
    return await run_kind(ctx, target)


@dataclass(frozen=True, slots=True)
class CampaignProgress:
    """A campaign's audience split and its delivery so far (`bot.delivery.progress`, the
    numbers the managers' live message shows)."""

    campaign: Campaign
    assigned: int
    holdout: int
    delivery: Progress


async def progress(ctx: Context, campaign_id: int | None = None) -> list[CampaignProgress]:
    """One campaign, or every active one."""
    async with ctx.db.read_session() as session:
        query = select(Campaign).order_by(Campaign.id)
        query = query.where(Campaign.id == campaign_id) if campaign_id is not None else (
            query.where(Campaign.status == CampaignStatus.ACTIVE)
        )
        out = []
        for campaign in await session.scalars(query):
            assigned, holdout = (await session.execute(
                select(func.count(), func.sum(case((CampaignAssignment.is_holdout, 1), else_=0)))
                .where(CampaignAssignment.campaign_id == campaign.id)
            )).one()
            delivered = await delivery_progress(session, campaign.id, now=ctx.now,
                                                rate=ctx.settings.send.delivery_rate)
            out.append(CampaignProgress(campaign, assigned, holdout or 0, delivered))
        return out


async def overview(ctx: Context) -> list[Campaign]:
    """All campaigns, newest last, for `promobot campaign list`."""
    async with ctx.db.read_session() as session:
        return list(await session.scalars(select(Campaign).order_by(Campaign.id)))
