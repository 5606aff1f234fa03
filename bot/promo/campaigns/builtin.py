"""Campaign rows as runs read them: the status re-read on every batch, opening an active
campaign, the built-in campaigns behind the automatic jobs (`auto:review`, ...), and the
offer of a run (`own_offer`: the job's settings unless the campaign says otherwise)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

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
from bot.promo.campaigns import optimiser
from bot.promo.campaigns.context import Context, RunResult
from bot.promo.campaigns.experiments import Design
from bot.promo.codes.offers import Offer


async def campaign_status(session: AsyncSession, campaign_id: int) -> str | None:
    """Re-read on every batch: a campaign paused mid-run stops at the next batch."""
    return await session.scalar(select(Campaign.status).where(Campaign.id == campaign_id))


async def still_active(session: AsyncSession, campaign_id: int) -> bool:
    """A run's batch goes on only while the campaign is active. On PostgreSQL the row is
    share-locked until the batch commits: a pause or stop waits for the batch, then holds
    or cancels its messages too (SQLite's write lock already puts them in order)."""
    status = await session.scalar(select(Campaign.status).where(Campaign.id == campaign_id)
                                  .with_for_update(read=True))
    return status == CampaignStatus.ACTIVE


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
        return campaign, await _split(session, ctx, campaign, variants)


async def _split(session: AsyncSession, ctx: Context, campaign: Campaign,
                 variants: Sequence[CampaignVariant]) -> Design:
    return await optimiser.split_now(session, campaign, variants,
                                     guardrail=ctx.settings.guardrail, now=ctx.now)


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


async def open_job_campaign(
    ctx: Context, kind: str, campaign_id: int | None, result: RunResult
) -> tuple[Campaign, Design] | None:
    """The campaign an automatic job runs for: its built-in one (`auto:<kind>`), or a
    manager's campaign of that kind (`campaign_id`) with its own offer and split; None
    when it is not active (the result says why)."""
    if campaign_id is not None:
        return await open_campaign(ctx, campaign_id, result)
    builtin_id = await active_builtin(ctx, kind, result)
    if builtin_id is None:
        return None
    async with ctx.db.read_session() as session:
        loaded = await load_campaign(session, builtin_id)
        assert loaded is not None
        return loaded[0], await _split(session, ctx, *loaded)


# Offer fields a campaign may set; `extra` and unset (None) values never override.
_OWN_FIELDS = frozenset(Offer.__dataclass_fields__) - {"extra"}


def own_offer(data: Mapping[str, Any], default: Offer) -> Offer:
    """A run's offer: the built-in job's `default` (its settings, a ladder's step), with
    what the campaign or its variant set (`data`, JSON of `Offer`) taking its place. A
    discount type of its own replaces the default's whole reward (value, free shipping);
    any other field (value, minimum order, days, categories) replaces its own."""
    given = {k: v for k, v in data.items() if k in _OWN_FIELDS and v is not None}
    merged = default.to_json()
    if given.get("discount_type"):
        merged.update(value=0, free_shipping=False)
    return Offer.from_json({**merged, **given})


def own_words(campaign: Campaign, row: Any, shop: str) -> dict[str, Any]:
    """Payload for a message of a campaign with texts of its own: the texts, and what their
    placeholders need (the customer's name, the shop's); empty when it has none, so that
    the job's standard wording stays."""
    if not (campaign.message_ru or campaign.message_en):
        return {}
    return {"message": {"ru": campaign.message_ru, "en": campaign.message_en},
            "name": row.name, "shop": shop}
