"""Claiming customers for a campaign, then issuing their codes and queueing their messages.

Two runs at once cannot both claim a customer: a claim is an
`INSERT … ON CONFLICT DO NOTHING` or a conditional UPDATE checked by its row count, and
the outbox's unique dedupe key is the second lock on the door.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Row,
    and_,
    bindparam,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.bulk import insert_rows
from bot.db.dialect import one_of
from bot.db.models import Campaign, CampaignAssignment, CodeSource
from bot.delivery.outbox import enqueue_many
from bot.promo.campaigns.context import Context, RunResult
from bot.promo.campaigns.experiments import HOLDOUT, Arm, Design
from bot.promo.codes.issuing import Headroom, headroom, issue_personal, refusal
from bot.promo.codes.offers import Offer

assignments = CampaignAssignment.__table__


def recorded_arm(design: Design, variant_id: int | None, is_holdout: bool,
                 campaign_id: int, customer_id: int) -> Arm:
    """The arm an existing assignment recorded; a variant since deleted is chosen again."""
    if is_holdout:
        return HOLDOUT
    for arm in design.arms:
        if arm.variant_id == variant_id:
            return arm
    arm = design.choose(campaign_id, customer_id)
    return arm if not arm.is_holdout else design.arms[0]


@dataclass(slots=True)
class Claim:
    row: Row[Any]
    arm: Arm


async def claim_new(
    session: AsyncSession,
    campaign_id: int,
    design: Design,
    rows: Sequence[Row[Any]],
    *,
    step: int,
    now: datetime,
    reference: dict[int, datetime | None] | None = None,
    result: RunResult,
) -> list[Claim]:
    """Assign these customers to the campaign; returns the ones this run won.

    A customer without an assignment gets one (sticky arm from the hash). With
    `reference` (comeback cycles), an assignment left from an older cycle is reused
    (same arm) and moved to the new cycle by a conditional UPDATE; without it an
    existing assignment means "already done".
    """
    if not rows:
        return []
    # Without cycles to move, an existing assignment is a lost insert (ON CONFLICT).
    existing = ({} if reference is None
                else await _existing(session, campaign_id, [row.id for row in rows]))
    refs = reference or {}
    ids = [row.id for row in rows]
    arms = {customer: design.choose(campaign_id, customer) for customer in ids
            if customer not in existing}
    won = await _insert_fresh(session, campaign_id, design, arms, refs, step=step, now=now)
    if reference is not None:
        moved = await _move_to_cycle(session, campaign_id, design, rows, existing, refs,
                                     step=step, now=now)
        won.update(moved)
        arms.update(moved)
    claims = [Claim(row, arms[customer]) for row, customer in zip(rows, ids, strict=True)
              if customer in won]
    result.taken += len(rows) - len(claims)
    result.assigned += len(claims)
    result.holdout += sum(1 for claim in claims if claim.arm.is_holdout)
    return claims


async def _existing(
    session: AsyncSession, campaign_id: int, ids: list[int]
) -> dict[int, Row[Any]]:
    """The assignments these customers already have in the campaign, by customer."""
    rows = await session.execute(
        select(assignments.c.customer_id, assignments.c.id, assignments.c.variant_id,
               assignments.c.is_holdout, assignments.c.reference_at)
        .where(assignments.c.campaign_id == campaign_id,
               one_of(session, assignments.c.customer_id, ids))
    )
    return {row.customer_id: row for row in rows.all()}


async def _insert_fresh(
    session: AsyncSession, campaign_id: int, design: Design, arms: Mapping[int, Arm],
    refs: Mapping[int, datetime | None], *, step: int, now: datetime,
) -> set[int]:
    """Insert the new assignments (`arms`: the customers without one, with the arm each
    gets); the customers whose row this run inserted (a concurrent run's row wins the
    conflict and is left alone)."""
    if not arms:
        return set()
    values = [
        {"customer_id": customer, "variant_id": arm.variant_id,
         "is_holdout": arm.is_holdout, "reference_at": refs.get(customer),
         "propensity": design.propensity(arm)}
        for customer, arm in arms.items()
    ]
    inserted = await insert_rows(
        session, assignments, values, skip_conflicts=True, returning=(assignments.c.customer_id,),
        campaign_id=campaign_id, step=step, assigned_at=now, escalated=False,
        holdout_share=design.holdout_share,
    )
    return set(inserted.scalars())


async def _move_to_cycle(
    session: AsyncSession, campaign_id: int, design: Design, rows: Sequence[Row[Any]],
    existing: Mapping[int, Row[Any]], refs: Mapping[int, datetime | None], *, step: int,
    now: datetime,
) -> dict[int, Arm]:
    """Move assignments of an older cycle to this one, each by a conditional UPDATE a
    concurrent run cannot also win; the customers moved, with the arm they had."""
    moved: dict[int, Arm] = {}
    for row in rows:
        old = existing.get(row.id)
        ref = refs.get(row.id)
        if old is None or ref is None:
            continue
        updated = await session.execute(
            update(assignments)
            .where(assignments.c.id == old.id,
                   or_(assignments.c.reference_at.is_(None),
                       assignments.c.reference_at < ref))
            .values(step=step, reference_at=ref, escalated=False, code_id=None,
                    assigned_at=now)
        )
        if updated.rowcount == 1:
            moved[row.id] = recorded_arm(design, old.variant_id, old.is_holdout,
                                         campaign_id, row.id)
    return moved


async def record_codes(
    session: AsyncSession, campaign_id: int, codes: dict[int, int]
) -> None:
    """Remember on each assignment the code it now holds (escalation looks at it)."""
    if not codes:
        return
    await session.execute(
        update(assignments)
        .where(and_(assignments.c.campaign_id == campaign_id,
                    assignments.c.customer_id == bindparam("b_customer")))
        .values(code_id=bindparam("b_code")),
        [{"b_customer": customer, "b_code": code} for customer, code in codes.items()],
    )


async def queue(session: AsyncSession, rows: list[dict[str, Any]], result: RunResult,
                **same: Any) -> None:
    """Queue the batch's messages (`same`: what `enqueue_many` takes once for all); every
    row must be new, else the batch is undone."""
    queued = await enqueue_many(session, rows, **same)
    if queued != len(rows):
        # A claim was won but the message exists: a bug, not a race. Roll the batch
        # back rather than leave codes nobody is told about.
        raise RuntimeError(f"{len(rows) - queued} of {len(rows)} messages were queued before")
    result.queued += queued


@dataclass(frozen=True, slots=True)
class ArmOffers:
    """Each treated arm's offer (None: the message alone), and the guardrail that weighs
    it against each customer's tier."""

    by_arm: Mapping[int | None, Offer | None]
    room: Headroom


async def offers_by_arm(
    ctx: Context, split: Design, make: Callable[[Arm], Offer | None], result: RunResult,
) -> ArmOffers | None:
    """Each treated arm's offer, checked against the margin guardrail before anything is
    issued; None (and the result marked refused, with the numbers) if one is above it."""
    offers = {arm.variant_id: make(arm) for arm in split.arms}
    room = await guardrail_ok(ctx, [o for o in offers.values() if o is not None], result)
    return ArmOffers(offers, room) if room is not None else None


async def issue_and_queue(
    session: AsyncSession,
    ctx: Context,
    campaign: Campaign,
    claims: Sequence[Claim],
    *,
    offers: ArmOffers,
    source: CodeSource,
    reason: str,
    dedupe: Callable[[Row[Any]], str],
    payload: Callable[[Row[Any]], dict[str, Any]],
    result: RunResult,
) -> None:
    """For each treated claim: its arm's code (validity from delivery) and its message,
    in the batch's transaction. The holdout gets nothing; an arm without an offer gets
    the message alone; a customer whose tier leaves the offer no room gets neither.
    Each arm's codes are one INSERT for the batch."""
    treated: list[Claim] = []
    to_issue: dict[int | None, tuple[Offer, list[int]]] = {}
    for claim in claims:
        if claim.arm.is_holdout:
            continue
        offer = offers.by_arm.get(claim.arm.variant_id)
        if offer is not None:
            if not offers.room.allows(offer, claim.row):
                result.no_room += 1
                continue
            to_issue.setdefault(claim.arm.variant_id, (offer, []))[1].append(claim.row.id)
        treated.append(claim)
    codes: dict[int, int] = {}
    for variant_id, (offer, customers) in to_issue.items():
        codes.update(await issue_personal(
            session, offer, customers, source=source, now=ctx.now,
            campaign_id=campaign.id, variant_id=variant_id, prefix=campaign.code_prefix,
            length=ctx.settings.shop.code_length, expires_on_delivery=True,
        ))
    result.issued += len(codes)
    rows = [{"dedupe_key": dedupe(claim.row), "customer_id": claim.row.id,
             "payload": payload(claim.row), "code_id": codes.get(claim.row.id)}
            for claim in treated]
    await record_codes(session, campaign.id, codes)
    await queue(session, rows, result, reason=reason, due_at=ctx.now, campaign_id=campaign.id)


async def guardrail_ok(ctx: Context, offers: Sequence[Offer], result: RunResult) -> Headroom | None:
    """All offers within the margin ceiling: the guardrail that then weighs each customer's
    tier (`Headroom.allows`). Else None, and the result is refused, with the numbers."""
    async with ctx.db.read_session() as session:
        room = await headroom(session, ctx.settings, now=ctx.now)
    for offer in offers:
        check = room.check(offer)
        if not check.allowed:
            result.status, result.message = "refused", refusal(check).message
            return None
    return room
