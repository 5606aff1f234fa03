"""Campaign rows as runs read them: the status re-read on every batch, opening an active
campaign, and the built-in campaigns behind the automatic jobs (`auto:review`, ...)."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import (
    func,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.dialect import is_postgresql
from bot.db.models import (
    Campaign,
    CampaignStatus,
    CampaignVariant,
)
from bot.promo.campaigns.context import Context, RunResult
from bot.promo.campaigns.experiments import Design
from bot.promo.campaigns.experiments import design as split_of


async def campaign_status(session: AsyncSession, campaign_id: int) -> str | None:
    """Re-read on every batch: a campaign paused mid-run stops at the next batch."""
    return await session.scalar(select(Campaign.status).where(Campaign.id == campaign_id))


async def load_campaign(
    session: AsyncSession, campaign_id: int
) -> tuple[Campaign, list[CampaignVariant]] | None:
    campaign = await session.get(Campaign, campaign_id, populate_existing=True)
    if campaign is None:
        return None
    variants = list(await session.scalars(
        select(CampaignVariant).where(CampaignVariant.campaign_id == campaign_id)
        .order_by(CampaignVariant.id)
    ))
    return campaign, variants


async def open_campaign(
    ctx: Context, campaign_id: int, result: RunResult
) -> tuple[Campaign, Design] | None:
    """The campaign and its split if it is active; else None, the result says why.
    Marks the campaign started (its reference point) on its first run."""
    async with ctx.db.session() as session:
        loaded = await load_campaign(session, campaign_id)
        if loaded is None:
            result.status, result.message = "inactive", "no such campaign"
            return None
        campaign, variants = loaded
        if campaign.status != CampaignStatus.ACTIVE:
            result.status, result.message = "inactive", f"campaign is {campaign.status}"
            return None
        if campaign.started_at is None:
            await mark_started(session, campaign_id, ctx.now)
            await session.commit()
            campaign.started_at = ctx.now
        return campaign, split_of(campaign, variants)


def builtin_name(kind: str) -> str:
    return f"auto:{kind}"


async def builtin_campaign(session: AsyncSession, kind: str, now: datetime) -> int:
    """The campaign row behind an automatic job (`auto:review`, ...), created active on
    first use (not committed); a manager pauses the job by pausing it. Never re-created
    once it exists. Commit at once: on PostgreSQL the transaction holds a lock that
    keeps a second instance from creating it too (`ensure_builtin` does both)."""
    name = builtin_name(kind)
    if is_postgresql(session):
        # Two instances creating it at once would make two; SQLite's write lock
        # already serialises this transaction.
        key = int.from_bytes(hashlib.blake2b(name.encode(), digest_size=7).digest(), "big")
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
    found = await session.scalar(
        select(func.min(Campaign.id)).where(Campaign.name == name, Campaign.kind == kind)
    )
    if found is None:
        campaign = Campaign(
            name=name, kind=kind, status=CampaignStatus.ACTIVE, params={"builtin": True},
            offer={}, started_at=now, created_at=now, updated_at=now,
        )
        session.add(campaign)
        await session.flush()
        found = campaign.id
    return found


async def ensure_builtin(ctx: Context, kind: str) -> int:
    """The built-in campaign's id, created on first use in a transaction of its own."""
    async with ctx.db.session() as session:
        found = await builtin_campaign(session, kind, ctx.now)
        await session.commit()
    return found


async def mark_started(session: AsyncSession, campaign_id: int, now: datetime) -> None:
    await session.execute(
        update(Campaign).where(Campaign.id == campaign_id, Campaign.started_at.is_(None))
        .values(started_at=now).execution_options(synchronize_session=False)
    )


async def active_builtin(ctx: Context, kind: str, result: RunResult) -> int | None:
    """The built-in campaign of an automatic job, or None (the result says why) when a
    manager has paused it."""
    campaign_id = await ensure_builtin(ctx, kind)
    result.campaign_id = campaign_id
    async with ctx.db.read_session() as session:
        status = await campaign_status(session, campaign_id)
    if status != CampaignStatus.ACTIVE:
        result.status, result.message = "inactive", f"campaign auto:{kind} is {status}"
        return None
    return campaign_id
