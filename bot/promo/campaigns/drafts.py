"""A campaign draft checked as the `/campaign new` dialog collects it, so that a refusal
comes at the step that can fix it rather than at "Create", nine steps later.

An offer is checked against the margin guardrail and against the manager's monthly
discount budget, as if every customer the segment reaches now used one code (a
campaign that waits for events counts one). `refused_step` names the first step whose
offer no longer passes: the dialog asks it again with the rest of the draft kept.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.promo.campaigns.admin import Draft, audience_counts
from bot.promo.codes.issuing import ensure_within_guardrail
from bot.promo.codes.offers import Offer
from bot.promo.customers.segments import get_segment
from bot.promo.errors import DomainError
from bot.promo.staff import budget
from bot.promo.staff.managers import Staff

OFFER_STEP = "offer"
VARIANTS_STEP = "variants"


async def reach(session: AsyncSession, segment: str | None, *, settings: Settings,
                now: datetime, survey_answer: list[int] | None = None) -> int:
    """How many codes a run would hand out now: the segment's reachable customers (those
    who chose `survey_answer`, when given), or one for a campaign that waits for events."""
    if not segment:
        return 1
    params = {"survey_answer": survey_answer} if survey_answer else {}
    query = get_segment(segment).of_campaign(params, now=now, tz=settings.shop.zone)
    return max((await audience_counts(session, query))[1], 1)


async def check_offers(
    session: AsyncSession, staff: Staff, offers: list[Offer], *, segment: str | None,
    settings: Settings, now: datetime, survey_answer: list[int] | None = None,
) -> None:
    """Raise the guardrail's or the budget's refusal (`DomainError`, with the numbers)
    for the first of `offers` that does not pass."""
    count = None
    for offer in offers:
        await ensure_within_guardrail(session, offer, guardrail=settings.guardrail, now=now)
        if budget.budget_of(staff, settings.staff):
            count = count or await reach(session, segment, settings=settings, now=now,
                                         survey_answer=survey_answer)
            await budget.ensure_within_budget(session, staff, offer, count,
                                              settings=settings, now=now)


def variant_offers(draft: Draft) -> list[Offer]:
    """The variants' offers, each over the campaign's own (conditions included)."""
    merged = [{**draft.offer, **variant.get("offer", {})} for variant in draft.variants]
    return [Offer.from_json(data) for data in merged if data.get("discount_type")]


async def refused_step(
    session: AsyncSession, staff: Staff, draft: Draft, *, settings: Settings, now: datetime,
) -> tuple[str, DomainError] | None:
    """The first step whose offer is refused now (the averages or the budget may have
    moved since it was asked), and the refusal; None when every offer passes."""
    own = [Offer.from_json(draft.offer)] if draft.offer.get("discount_type") else []
    for step, offers in ((OFFER_STEP, own), (VARIANTS_STEP, variant_offers(draft))):
        try:
            await check_offers(session, staff, offers, segment=draft.segment,
                               survey_answer=draft.survey_answer,
                               settings=settings, now=now)
        except DomainError as error:
            return step, error
    return None
