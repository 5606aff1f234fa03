"""Campaigns for shops that automate: create, list, read, set the budget, read the results.

A campaign made here is a draft, as one made by a manager's dialog is; it starts from the
bot (`/campaign <id> start`) or here (`PATCH` with `{"action": "start"}`), and then runs at
once. Its budget stops its codes at the checkout once spent.
"""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.api.body import parse, reply
from bot.api.campaign_schemas import (
    CampaignBudgetOut,
    CampaignIn,
    CampaignListOut,
    CampaignOut,
    CampaignPatchIn,
    CampaignStatsOut,
    ChannelStatsOut,
    GroupOut,
    MoneyIntervalOut,
    OptimiserOut,
    OptimiserVariantOut,
    SampleRatioOut,
    UpliftOut,
    VariantIn,
    VariantStatsOut,
)
from bot.api.context import API_KEY_NAME, CLOCK, DATABASE, LAUNCHER, SETTINGS
from bot.api.errors import ApiError
from bot.config import Settings
from bot.db import Database
from bot.db.models import Campaign, CampaignKind
from bot.promo.campaigns import admin, analytics, budget
from bot.promo.campaigns.admin import SEGMENT_KINDS, Draft
from bot.promo.campaigns.budget import KEEP, BudgetState
from bot.promo.campaigns.confidence import Effect, SampleRatio
from bot.promo.codes.offers import Offer
from bot.promo.errors import DomainError, ErrorCode

# The ids are INTEGER; anything else names no campaign (and must not reach the database).
_MAX_ID = 2**31 - 1
LIST_LIMIT = 100


def _unknown(raw: object) -> ApiError:
    return ApiError(404, "unknown_campaign", f"no campaign with id {str(raw)[:64]!r}")


def campaign_id_of(request: web.Request) -> int:
    raw = request.match_info["campaign_id"]
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 10 and 1 <= int(raw) <= _MAX_ID):
        raise _unknown(raw)
    return int(raw)


async def campaign_or_404(session: AsyncSession, campaign_id: int) -> tuple[Campaign, BudgetState]:
    """The campaign as stored now; in a path, an unknown one is 404 (the domain's 422 is
    for an id given in a body)."""
    try:
        return await budget.read(session, campaign_id)
    except DomainError as error:
        if error.code is not ErrorCode.UNKNOWN_CAMPAIGN:
            raise
        raise _unknown(campaign_id) from None


def actor_of(request: web.Request) -> str:
    return f"api:{request[API_KEY_NAME]}"


def budget_out(state: BudgetState) -> CampaignBudgetOut:
    return CampaignBudgetOut(
        amount=state.amount,
        uses=state.uses,
        spent_amount=state.spent_amount,
        spent_uses=state.spent_uses,
        amount_left=state.amount_left,
        uses_left=state.uses_left,
        exhausted=state.exhausted,
    )


def campaign_out(campaign: Campaign) -> CampaignOut:
    return CampaignOut(
        id=campaign.id,
        name=campaign.name,
        kind=campaign.kind,
        status=campaign.status,
        segment=campaign.segment,
        holdout=campaign.holdout_percent / 100,
        optimise=campaign.optimise,
        schedule=campaign.schedule,
        created_at=campaign.created_at,
        started_at=campaign.started_at,
        budget=budget_out(budget.state_of(campaign)),
    )


def variant_json(variant: VariantIn, index: int, currency: str) -> dict[str, object]:
    """A variant as the campaign stores it, its offer checked as `Offer` checks it."""
    offer: dict[str, object] = {}
    if variant.discount_type is not None:
        fields = variant.model_dump(exclude={"name", "weight"})
        try:
            offer = Offer.from_json({**fields, "currency": currency}).to_json()
        except ValueError as error:
            raise ApiError(
                422,
                "invalid_offer",
                f"variants[{index}].value: {error}",
                fields=[f"variants[{index}].value"],
            ) from None
    return {"name": variant.name, "weight": variant.weight, "offer": offer}


def draft_of(body: CampaignIn, currency: str) -> Draft:
    if body.kind in SEGMENT_KINDS and body.segment is None:
        raise ApiError(
            422, "invalid_body", f"segment: a {body.kind} campaign needs a segment",
            fields=["segment"]
        )
    if body.kind == CampaignKind.NEW_CATEGORY and not any(v.discount_type for v in body.variants):
        raise ApiError(
            422, "invalid_body", "variants: a new_category campaign gives a code: give it an "
            "offer (discount_type)", fields=["variants"]
        )
    names = [v.name for v in body.variants]
    if len(set(names)) != len(names):
        raise ApiError(422, "invalid_body", "variants: names must differ", fields=["variants"])
    texts = body.texts
    return Draft(
        kind=body.kind,
        name=body.name,
        segment=body.segment,
        survey_answer=([body.survey_answer.survey_id, body.survey_answer.option]
                       if body.survey_answer else None),
        variants=[variant_json(v, i, currency) for i, v in enumerate(body.variants)],
        holdout_percent=round(body.holdout * 100),
        optimise=body.optimise,
        schedule=body.schedule,
        message_ru=texts.ru if texts else None,
        message_en=texts.en if texts else None,
    )


async def create_campaign(
    db: Database, body: CampaignIn, settings: Settings, *, now: datetime, actor: str
) -> Campaign:
    """A new draft campaign and its budget, committed: the API's and the CLI's create."""
    draft = draft_of(body, settings.shop.currency)
    async with db.session() as session:
        campaign = await admin.create(
            session, None, draft, guardrail=settings.guardrail, now=now, actor=actor
        )
        if body.budget is not None:
            await budget.set_budget(session, campaign.id, amount=body.budget.amount,
                                    uses=body.budget.uses, actor=actor, now=now)
        await session.commit()
        campaign, _state = await budget.read(session, campaign.id)
    return campaign


async def post_campaign(request: web.Request) -> web.Response:
    body = await parse(request, CampaignIn)
    campaign = await create_campaign(request.app[DATABASE], body, request.app[SETTINGS],
                                     now=request.app[CLOCK](), actor=actor_of(request))
    return reply(campaign_out(campaign), 201)


async def get_campaigns(request: web.Request) -> web.Response:
    async with request.app[DATABASE].read_session() as session:
        rows = await admin.list_campaigns(session, limit=LIST_LIMIT)
    return reply(CampaignListOut(campaigns=[campaign_out(c) for c, _counts in rows]))


async def get_campaign(request: web.Request) -> web.Response:
    campaign_id = campaign_id_of(request)
    async with request.app[DATABASE].read_session() as session:
        campaign, _state = await campaign_or_404(session, campaign_id)
    return reply(campaign_out(campaign))


async def patch_campaign(request: web.Request) -> web.Response:
    """The budget and the state in one transaction (a refused action changes nothing);
    `start` and `resume` then run the campaign in the background, and the answer, with the
    new status, does not wait for it."""
    campaign_id = campaign_id_of(request)
    body = await parse(request, CampaignPatchIn)
    now = request.app[CLOCK]()
    async with request.app[DATABASE].session() as session:
        await campaign_or_404(session, campaign_id)
        if body.budget is not None:
            given = body.budget.model_fields_set
            await budget.set_budget(
                session,
                campaign_id,
                amount=body.budget.amount if "amount" in given else KEEP,
                uses=body.budget.uses if "uses" in given else KEEP,
                actor=actor_of(request),
                now=now,
            )
        if body.action is not None:
            await admin.change_status(
                session, None, campaign_id, body.action, now=now, actor=actor_of(request)
            )
        await session.commit()
        campaign, _state = await budget.read(session, campaign_id)
    if body.action in admin.RUN_ACTIONS:
        request.app[LAUNCHER].launch(campaign_id)
    return reply(campaign_out(campaign))


def _percent(rate: float | None) -> float | None:
    return None if rate is None else round(rate * 100, 2)


def _figures(group: analytics.Figures) -> dict[str, object]:
    return {
        "customers": group.audience,
        "audience": group.audience,
        "delivered": group.delivered,
        "redeemed": group.redeemed,
        "uses": group.uses,
        "redemption_rate": _percent(group.redemption_rate),
        "buyers": group.buyers,
        "repeat_purchase_rate": _percent(group.rate),
        "revenue": group.revenue,
        "discount_cost": group.discount_cost,
        "margin": group.margin,
    }


def _uplift(lift: Effect | None) -> UpliftOut | None:
    if lift is None:
        return None
    return UpliftOut(
        difference=round(lift.difference * 100, 2),
        low=round(lift.low * 100, 2),
        high=round(lift.high * 100, 2),
    )


def _money(effect: Effect | None) -> MoneyIntervalOut | None:
    if effect is None:
        return None
    return MoneyIntervalOut(amount=round(effect.difference), low=round(effect.low),
                            high=round(effect.high))


def _sample_ratio(check: SampleRatio | None) -> SampleRatioOut | None:
    if check is None:
        return None
    return SampleRatioOut(off=check.off, p_value=round(check.p_value, 6),
                          observed=list(check.observed),
                          expected=[round(e, 2) for e in check.expected])


def _optimiser(stats: analytics.Stats) -> OptimiserOut | None:
    steering = stats.steering
    if steering is None:
        return None
    names = {v.variant_id: variant_name(v) for v in stats.variants}
    chances = steering.best_chance or {}
    return OptimiserOut(
        window_days=steering.window_days, learning=steering.learning,
        leader=None if steering.leader is None else names.get(steering.leader),
        variants=[OptimiserVariantOut(
            name=names.get(v, str(v)), measured=steering.measured.get(v, 0),
            margin_per_recipient=None if steering.margin.get(v) is None
            else round(steering.margin[v] or 0),
            best_chance=_percent(chances.get(v)) if chances else None,
            share=_percent(share) or 0.0)
            for v, share in steering.shares.items()])


def _variant(variant: analytics.VariantResult) -> VariantStatsOut:
    extra = variant.incremental
    return VariantStatsOut(
        **_figures(variant.figures),
        name=variant_name(variant),
        variant_id=variant.variant_id,
        offer_percent=None if variant.offer_percent is None else float(variant.offer_percent),
        uplift=_uplift(variant.uplift),
        incremental_revenue=_money(variant.incremental_revenue),
        incremental_margin=_money(extra),
        pays=bool(extra and extra.proven),
    )


def variant_name(variant: analytics.VariantResult) -> str:
    return variant.name or "offer"


def stats_out(stats: analytics.Stats, state: BudgetState, campaign_id: int) -> CampaignStatsOut:
    """The API's answer; `promobot campaign stats --json` prints the same."""
    names = {v.variant_id: variant_name(v) for v in stats.variants}
    paying = stats.paying
    return CampaignStatsOut(
        campaign_id=campaign_id,
        since=stats.since,
        until=stats.until,
        sent=stats.sent,
        delivered=stats.delivered,
        redeemed=stats.redeemed,
        redemption_rate=_percent(stats.redemption_rate),
        repeat_purchase_rate=_percent(stats.repeat_rate),
        revenue=stats.revenue,
        discount_cost=stats.discount_cost,
        margin=stats.margin,
        uplift=_uplift(stats.uplift),
        treatment=GroupOut(**_figures(stats.treatment)),
        holdout=GroupOut(**_figures(stats.holdout)),
        variants=[_variant(v) for v in stats.variants],
        smallest_paying_variant=None if paying is None else variant_name(paying),
        sample_ratio=_sample_ratio(stats.sample_ratio),
        optimiser=_optimiser(stats),
        channels=[
            ChannelStatsOut(
                channel=row.channel,
                variant=names.get(row.variant_id),
                codes=row.codes,
                redeemed=row.redeemed,
                uses=row.uses,
                revenue=row.revenue,
                discount_cost=row.discount_cost,
            )
            for row in stats.channels
        ],
        budget=budget_out(state),
    )


async def get_campaign_stats(request: web.Request) -> web.Response:
    """Since the campaign was created, until now."""
    campaign_id = campaign_id_of(request)
    now: datetime = request.app[CLOCK]()
    async with request.app[DATABASE].read_session() as session:
        campaign, state = await campaign_or_404(session, campaign_id)
        stats = await analytics.for_campaign(
            session, campaign, now=now, guardrail=request.app[SETTINGS].guardrail
        )
    return reply(stats_out(stats, state, campaign_id))
