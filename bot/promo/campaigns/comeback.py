"""The comeback ladder: silent customers get the smallest offer that may bring them back.

Steps come from settings (`60:10,90:12+fs`) or a campaign's `params["ladder"]`, with an
optional first step for "new but silent" customers (one order, then nothing). A customer
enters at the step their silence has reached; a silence is a *cycle*, named by the last
order it follows (`reference_at` on the assignment), so whoever orders in between is out
of it, and a later silence starts a new cycle. A code that expired unredeemed moves its
holder one step up the ladder, once per cycle. Comeback codes count their validity from
the moment the message is delivered. A campaign with an offer of its own (a manager's,
from `/campaign new`) gives that offer at every step: the ladder then only says who is
silent long enough (`arm_offer`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy import Row, Select, and_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.config.values import comeback_steps, parse_offer, parse_rungs
from bot.db.models import (
    Campaign,
    CampaignAssignment,
    CodeSource,
    CodeStatus,
    Customer,
    DiscountType,
    PromoCode,
)
from bot.delivery.outbox import Reason
from bot.promo.campaigns.audience import audience, batches, none_where, reachable
from bot.promo.campaigns.builtin import open_campaign, own_offer, own_words, still_active
from bot.promo.campaigns.claims import (
    ArmOffers,
    Claim,
    claim_new,
    issue_and_queue,
    offers_by_arm,
    recorded_arm,
)
from bot.promo.campaigns.context import Context, RunResult
from bot.promo.campaigns.experiments import Arm, Design
from bot.promo.campaigns.global_holdout import without_members
from bot.promo.codes.offers import Offer, rung_offer
from bot.promo.customers.segments import day_cutoff, silent_between

assignments = CampaignAssignment.__table__


@dataclass(frozen=True, slots=True)
class Step:
    index: int
    days: int
    offer: Offer
    # The "new but silent" step: only customers with exactly one order.
    only_new: bool = False


def ladder(settings: Settings, params: Mapping[str, Any] | None = None) -> tuple[Step, ...]:
    """The steps in force: `params` (a campaign's) override the settings.

    A campaign writes its ladder (`days:percent[+fs]`) and "new but silent" offer
    (`percent[+fs]`) as the variables are written, and the same parsers and checks read
    them; the settings' own were read when they loaded.
    """
    params = params or {}
    comeback = settings.comeback
    money = {
        "min_order": int(params.get("min_order", comeback.min_order)),
        "valid_days": int(params.get("valid_days") or comeback.valid_days),
        "currency": settings.shop.currency,
    }
    rungs = parse_rungs(tuple(params["ladder"])) if params.get("ladder") else comeback.ladder
    offer = (parse_offer(str(params["new_silent_offer"])) if "new_silent_offer" in params
             else comeback.new_silent_offer)
    new_days = int(params.get("new_silent_days", comeback.new_silent_days))
    return tuple(
        Step(index, rung.threshold, rung_offer(rung, **money), only_new)
        for index, (rung, only_new) in enumerate(comeback_steps(rungs, new_days, offer))
    )


def arm_offer(step: Step, arm: Arm, base: Mapping[str, Any] | None = None) -> Offer:
    """The step's offer for an arm: a campaign's own offer (`base`, under its variant's)
    replaces the step's reward and conditions (`builtin.own_offer`); `extra_percent`
    adds points to the percent the step ends up with. The ladder's days still choose who
    gets it."""
    data = {**(base or {}), **arm.offer}
    if not data:
        return step.offer
    offer = own_offer(data, step.offer)
    extra = int(data.get("extra_percent", 0))
    if extra and offer.discount_type is DiscountType.PERCENT:
        offer = Offer.from_json({**offer.to_json(), "value": offer.value + extra})
    return offer


def _upper_days(steps: tuple[Step, ...], index: int, max_days: int) -> int:
    later = [s.days for s in steps[index + 1:]]
    return later[0] if later else max_days


def entry_query(
    campaign_id: int, steps: tuple[Step, ...], index: int, *, now: datetime, tz: tzinfo,
    max_days: int,
) -> Select[Any]:
    """Customers whose silence is in this step's window and who are not in this
    campaign's current cycle yet (no assignment at or after their last order)."""
    step = steps[index]
    query = silent_between(step.days, _upper_days(steps, index, max_days), now=now, tz=tz)
    if step.only_new:
        query = query.where(Customer.orders_count == 1)
    return query.where(none_where(
        CampaignAssignment.id,
        CampaignAssignment.campaign_id == campaign_id,
        CampaignAssignment.customer_id == Customer.id,
        CampaignAssignment.reference_at >= Customer.last_order_at,
    ))


def escalation_query(
    campaign_id: int, steps: tuple[Step, ...], index: int, *, now: datetime, tz: tzinfo,
    max_days: int,
) -> Select[Any]:
    """Holders of an expired, unredeemed step-`index` code, silent long enough for the
    next step, who have not ordered since and have not escalated in this cycle."""
    nxt = steps[index + 1]
    return (
        select(Customer.id)
        .join(CampaignAssignment, and_(CampaignAssignment.customer_id == Customer.id,
                                       CampaignAssignment.campaign_id == campaign_id))
        .join(PromoCode, PromoCode.id == CampaignAssignment.code_id)
        .where(
            CampaignAssignment.step == index,
            CampaignAssignment.escalated.is_(False),
            CampaignAssignment.is_holdout.is_(False),
            CampaignAssignment.reference_at >= Customer.last_order_at,
            PromoCode.expires_at < now,
            PromoCode.used_count == 0,
            PromoCode.status == CodeStatus.ACTIVE,
            Customer.last_order_at < day_cutoff(now, nxt.days, tz),
            Customer.last_order_at >= day_cutoff(now, max_days, tz),
        )
    )


def dedupe_key(campaign_id: int, customer_id: int, reference_at: datetime, step: int) -> str:
    return f"comeback:{campaign_id}:{customer_id}:{int(reference_at.timestamp())}:{step}"


async def run_comeback(ctx: Context, campaign_id: int) -> RunResult:
    """One run of a comeback campaign: escalations first, then new entries per step."""
    result = RunResult(kind="comeback", campaign_id=campaign_id)
    opened = await open_campaign(ctx, campaign_id, result)
    if opened is None:
        return result
    campaign, split = opened
    steps = ladder(ctx.settings, campaign.params)
    offers = await _offers_per_step(ctx, split, steps, campaign.offer, result)
    if offers is None:
        return result
    run = _Run(ctx, campaign, split, steps, offers, result)
    for index in range(len(steps) - 1):
        if not await run.escalate(index):
            return result
    for step in steps:
        if not await run.enter(step):
            return result
    return result


async def _offers_per_step(
    ctx: Context, split: Design, steps: tuple[Step, ...], base: Mapping[str, Any] | None,
    result: RunResult,
) -> dict[int, ArmOffers] | None:
    """Each step's offer per arm, every one checked against the margin guardrail before
    anything is issued; None (the result says why) if one is above it."""
    offers = {}
    for step in steps:
        per_arm = await offers_by_arm(
            ctx, split, lambda arm, step=step: arm_offer(step, arm, base), result
        )
        if per_arm is None:
            return None
        offers[step.index] = per_arm
    return offers


@dataclass(frozen=True, slots=True)
class _Run:
    """What one run's passes share; each pass returns False when the campaign was paused
    during it (the result says so, and the batch in flight is rolled back)."""

    ctx: Context
    campaign: Campaign
    split: Design
    steps: tuple[Step, ...]
    offers: dict[int, ArmOffers]
    result: RunResult

    async def escalate(self, index: int) -> bool:
        """Holders of an expired step-`index` code move to the next step."""
        query = audience(
            escalation_query(self.campaign.id, self.steps, index, **self._window()),
            CampaignAssignment.id.label("assignment_id"),
            CampaignAssignment.variant_id, CampaignAssignment.reference_at,
        )
        async for session, rows in batches(self.ctx, query):
            if not await self._active(session):
                return False
            claims = await _claim_escalations(session, self.split, self.campaign.id, index,
                                              rows, self.ctx, self.result)
            await self._issue(session, claims, index + 1, lambda row: row.reference_at)
        return True

    async def enter(self, step: Step) -> bool:
        """Customers whose silence reached this step start a cycle on it."""
        entering = without_members(
            entry_query(self.campaign.id, self.steps, step.index, **self._window()),
            self.ctx.settings.policy.global_holdout)
        query = audience(entering, Customer.last_order_at)
        async for session, rows in batches(self.ctx, query):
            if not await self._active(session):
                return False
            keep = reachable(rows, self.result)
            claims = await claim_new(
                session, self.campaign.id, self.split, keep, step=step.index,
                now=self.ctx.now, reference={row.id: row.last_order_at for row in keep},
                result=self.result,
            )
            await self._issue(session, claims, step.index, lambda row: row.last_order_at)
        return True

    def _window(self) -> dict[str, Any]:
        settings = self.ctx.settings
        return {"now": self.ctx.now, "tz": settings.shop.zone,
                "max_days": settings.comeback.max_silent_days}

    async def _active(self, session: AsyncSession) -> bool:
        if await still_active(session, self.campaign.id):
            return True
        self.result.status, self.result.message = "inactive", "paused during the run"
        return False

    async def _issue(
        self, session: AsyncSession, claims: Sequence[Claim], index: int,
        reference: Callable[[Any], datetime],
    ) -> None:
        """The step-`index` code and message of each claim; `reference` names the cycle."""
        await issue_and_queue(
            session, self.ctx, self.campaign, claims, offers=self.offers[index],
            source=CodeSource.COMEBACK, reason=Reason.COMEBACK,
            dedupe=lambda row: dedupe_key(self.campaign.id, row.id, reference(row), index),
            payload=lambda row: {"category": row.favourite_category, "step": index,
                                 **own_words(self.campaign, row, self.ctx.settings.shop.name)},
            result=self.result,
        )


async def _claim_escalations(
    session: AsyncSession, split: Design, campaign_id: int, index: int,
    rows: Sequence[Row[Any]], ctx: Context, result: RunResult,
) -> list[Claim]:
    """Move each holder one step up, by a conditional UPDATE a concurrent run cannot win
    twice; the arm stays the one recorded."""
    claims = []
    for row in reachable(rows, result):
        moved = await session.execute(
            update(assignments)
            .where(assignments.c.id == row.assignment_id, assignments.c.step == index,
                   assignments.c.escalated.is_(False))
            .values(step=index + 1, escalated=True, assigned_at=ctx.now)
        )
        if moved.rowcount != 1:
            result.taken += 1
            continue
        result.escalated += 1
        claims.append(Claim(row, recorded_arm(split, row.variant_id, False, campaign_id, row.id)))
    return claims
