"""Campaign results: per variant and for the holdout, scoped by the campaign's assignments.

A campaign's figures count only its own customers (`campaign_assignments`) and its own
codes, over a period (assignments made since `since`; what they did until `until`):
- audience: customers assigned to the group;
- delivered: those the offer reached — a message Telegram accepted, a code the shop sent
  through another channel (API codes: email, site), or a code they used (it reached them
  somehow); so redeemed ⊆ delivered and the redemption rate never passes 100 %;
- redeemed: customers with a use of the campaign's codes that was not released
  (cancelled orders give theirs back); `uses` counts the uses themselves;
- repeat-purchase rate: customers who ordered (not cancelled) after their assignment
  ÷ audience; revenue: those orders' totals net of returns;
- discount cost: the uses' `cost` (the discount plus what free shipping cost the shop);
- margin after discount: revenue × the shop's margin rate (net profit per order ÷ average
  order value, the guardrail's numbers) − discount cost;
- uplift: a variant's repeat-purchase rate minus the holdout's; incremental revenue and
  incremental margin: the difference of revenue and of margin per customer (variant −
  holdout) times the variant's audience. Each customer weighs 1 / the chance of their
  group (recorded at assignment, `bot.promo.campaigns.confidence`), and every interval is
  an always-valid 95 % one: true however often the report is read. The smallest offer
  whose incremental margin's interval lies above zero is the one that pays;
- sample ratio: the holdout's and the variants' sizes against the split, a warning when
  they are off (customers lost or moved between groups).
The shop-wide summary (no campaign) pools every campaign's treated customers against every
holdout with the same definitions. Everything is a handful of grouped queries; nothing
loads rows per customer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Float, and_, case, cast, distinct, exists, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import GuardrailSettings
from bot.db.models import (
    Campaign,
    CampaignAssignment,
    CampaignVariant,
    CodeSource,
    Delivery,
    DeliveryStatus,
    Order,
    OrderStatus,
    PromoCode,
    Redemption,
)
from bot.promo.campaigns import optimiser
from bot.promo.campaigns.confidence import (
    Effect,
    Moments,
    SampleRatio,
    Sums,
    effect,
    inverse,
    moment_sums,
    moments_of,
    sample_ratio,
)
from bot.promo.campaigns.global_holdout import Program, program
from bot.promo.campaigns.optimiser import Steering
from bot.promo.codes.guardrail import average_order_value, judge

TELEGRAM = "telegram"
_NONE = Moments()


@dataclass(frozen=True, slots=True)
class Outcomes(Sums):
    """A group's outcomes per customer, as weighted sums: whether they bought again, their
    revenue, and their margin after discount."""

    bought: Moments = _NONE
    revenue: Moments = _NONE
    margin: Moments = _NONE


_NO_OUTCOMES = Outcomes()


@dataclass(frozen=True, slots=True)
class Figures(Sums):
    """One group's numbers (a variant, all treated customers, or the holdout)."""

    audience: int = 0
    delivered: int = 0
    redeemed: int = 0
    uses: int = 0
    buyers: int = 0
    revenue: int = 0
    discount_cost: int = 0
    # Σ revenue × margin rate − cost per customer.
    margin_sum: float = 0.0
    # Σ of each customer's chance of the holdout: the holdout's promised size; Σ of each
    # treated customer's chance of their variant among the treated.
    holdout_expected: float = 0.0
    arm_share_sum: float = 0.0
    # Weighted by the chance of the customer's arm (a variant against the holdout), and
    # of their group, treated or holdout (all treated customers against the holdout).
    by_arm: Outcomes = _NO_OUTCOMES
    by_group: Outcomes = _NO_OUTCOMES

    @property
    def customers(self) -> int:
        return self.audience

    @property
    def rate(self) -> float | None:
        """Repeat-purchase rate."""
        return self.buyers / self.audience if self.audience else None

    @property
    def redemption_rate(self) -> float | None:
        return self.redeemed / self.delivered if self.delivered else None

    @property
    def margin(self) -> int:
        return round(self.margin_sum)


# A difference of rates lies in [-1, 1]; small groups can push an interval past that.
RATE_BOUNDS = (-1.0, 1.0)


def uplift(treatment: Figures, holdout: Figures, *, by_arm: bool = False) -> Effect | None:
    """Difference of repeat-purchase rates with its always-valid 95 % interval; None
    until both groups have two customers. `by_arm`: one variant (weighed by the chance of
    its arm), else all treated customers together."""
    weighting = "by_arm" if by_arm else "by_group"
    return effect(getattr(treatment, weighting).bought, getattr(holdout, weighting).bought,
                  bounds=RATE_BOUNDS)


def incremental(variant: Figures, holdout: Figures, outcome: str) -> Effect | None:
    """What the variant's audience brought beyond the holdout in `outcome` ("revenue" or
    "margin", minor units for the whole audience), with an always-valid 95 % interval."""
    per_customer = effect(getattr(variant.by_arm, outcome), getattr(holdout.by_arm, outcome))
    return None if per_customer is None else per_customer.scaled(variant.audience)


def incremental_margin(variant: Figures, holdout: Figures) -> Effect | None:
    return incremental(variant, holdout, "margin")


@dataclass(frozen=True, slots=True)
class VariantResult:
    """A treated arm: a named variant, or (variant_id None) the campaign's own offer."""

    variant_id: int | None
    name: str | None
    # The offer's share of an order in percent (the guardrail's measure, free shipping at
    # its cost): what "smallest" means; None for a message without a code.
    offer_percent: Decimal | None
    figures: Figures
    uplift: Effect | None
    incremental_revenue: Effect | None
    # Incremental margin, after the discount's cost: what decides which offer pays.
    incremental: Effect | None

    @classmethod
    def against(cls, variant_id: int | None, name: str | None, offer_percent: Decimal | None,
                figures: Figures, holdout: Figures) -> VariantResult:
        return cls(variant_id, name, offer_percent, figures,
                   uplift(figures, holdout, by_arm=True),
                   incremental(figures, holdout, "revenue"),
                   incremental(figures, holdout, "margin"))


@dataclass(frozen=True, slots=True)
class ChannelRow:
    """A campaign's codes by variant and channel (or, shop-wide, API codes by channel)."""

    variant_id: int | None
    channel: str
    codes: int
    redeemed: int
    uses: int
    revenue: int
    discount_cost: int


@dataclass(frozen=True, slots=True)
class Stats:
    campaign_id: int | None
    since: datetime
    until: datetime
    sent: int
    delivered: int
    codes_delivered: int
    margin_rate: float
    treatment: Figures
    holdout: Figures
    variants: tuple[VariantResult, ...] = ()
    channels: tuple[ChannelRow, ...] = field(default=())
    # Shop-wide, with a global holdout: the whole program against it.
    program: Program | None = None
    # An optimised campaign: where its new recipients go now, and which offer leads.
    steering: Steering | None = None

    @property
    def redeemed(self) -> int:
        return self.treatment.redeemed

    @property
    def redemption_rate(self) -> float | None:
        return self.treatment.redemption_rate

    @property
    def repeat_rate(self) -> float | None:
        return self.treatment.rate

    @property
    def revenue(self) -> int:
        return self.treatment.revenue

    @property
    def discount_cost(self) -> int:
        return self.treatment.discount_cost

    @property
    def margin(self) -> int:
        return self.treatment.margin

    @property
    def uplift(self) -> Effect | None:
        return uplift(self.treatment, self.holdout)

    @property
    def sample_ratio(self) -> SampleRatio | None:
        """The holdout's size against its promised share, and, with variants, their sizes
        against their weights; the worse of the two checks."""
        everyone = self.treatment.audience + self.holdout.audience
        promised = (self.treatment.holdout_expected + self.holdout.holdout_expected) / (
            everyone or 1)
        checks = [sample_ratio((self.holdout.audience, self.treatment.audience),
                               (promised, 1 - promised))]
        arms = [v.figures for v in self.variants if v.figures.audience]
        # A variant's promised share is the mean of its customers' recorded shares: right
        # for a split that never moved (weights are not edited in place). An optimised
        # split moves with the results: there only the holdout's share is promised.
        if len(arms) > 1 and self.steering is None:
            checks.append(sample_ratio([f.audience for f in arms],
                                       [f.arm_share_sum / f.audience for f in arms]))
        found = [check for check in checks if check is not None]
        return min(found, key=lambda check: check.p_value, default=None)

    @property
    def paying(self) -> VariantResult | None:
        """The smallest offer whose incremental margin is above zero with 95 % confidence;
        None when no variant proves it yet."""
        proven = [v for v in self.variants if v.incremental and v.incremental.proven]
        return min(proven, key=_size, default=None)


def _size(variant: VariantResult) -> tuple[Decimal, int]:
    return variant.offer_percent or Decimal(0), variant.variant_id or 0


async def _messages(session: AsyncSession, campaign_id: int | None, since: datetime,
                    until: datetime) -> tuple[int, int, int]:
    """Messages sent (delivered + failed + unreachable), delivered, and codes delivered."""
    d = Delivery
    scope = [d.created_at >= since, d.created_at <= until]
    if campaign_id is not None:
        scope.append(d.campaign_id == campaign_id)
    else:
        scope.append(d.campaign_id.is_not(None))
    left = [DeliveryStatus.SENT, DeliveryStatus.FAILED, DeliveryStatus.UNREACHABLE]
    sent, delivered, codes = (await session.execute(
        select(func.count().filter(d.status.in_(left)),
               func.count().filter(d.status == DeliveryStatus.SENT),
               func.count(distinct(d.code_id)).filter(d.status == DeliveryStatus.SENT))
        .where(*scope))).one()
    return sent or 0, delivered or 0, codes or 0


def _flag(condition: Any) -> Any:
    # EXISTS is 0/1 in SQLite and a boolean in PostgreSQL: sum a CASE on both.
    return case((condition, 1), else_=0)


def _per_customer(campaign_id: int | None, since: datetime, until: datetime) -> Any:
    """One row per assignment with what that customer did: correlated aggregates, so the
    database does the per-customer work and only groups come back. MATERIALIZED: each
    outcome appears in a dozen sums, and a subquery folded into them (SQLite's and
    PostgreSQL's planners both do) runs its lookups again for every one: minutes, where
    once takes seconds, for a campaign of 660 000."""
    a, r = CampaignAssignment, Redemption
    ordered = and_(Order.customer_id == a.customer_id, Order.placed_at > a.assigned_at,
                   Order.placed_at <= until, Order.status != OrderStatus.CANCELLED)
    revenue = (select(func.coalesce(func.sum(Order.total - Order.returned_amount), 0))
               .where(ordered).scalar_subquery())
    used = and_(r.customer_id == a.customer_id, r.released_at.is_(None), r.created_at <= until,
                PromoCode.id == r.code_id, PromoCode.campaign_id == a.campaign_id)
    cost = select(func.coalesce(func.sum(r.cost), 0)).where(used).scalar_subquery()
    uses = select(func.count()).select_from(r).where(used).scalar_subquery()
    sent = exists().where(Delivery.campaign_id == a.campaign_id,
                          Delivery.customer_id == a.customer_id,
                          Delivery.status == DeliveryStatus.SENT)
    elsewhere = exists().where(PromoCode.campaign_id == a.campaign_id,
                               PromoCode.customer_id == a.customer_id,
                               PromoCode.channel != TELEGRAM)
    scope = [a.assigned_at >= since, a.assigned_at <= until]
    if campaign_id is not None:
        scope.append(a.campaign_id == campaign_id)
    return select(
        a.is_holdout.label("holdout"),
        (a.variant_id if campaign_id is not None else literal(None)).label("variant_id"),
        _flag(exists().where(ordered)).label("bought"),
        _flag(sent | elsewhere).label("reached"),
        revenue.label("revenue"), cost.label("cost"), uses.label("uses"),
        a.propensity, a.holdout_share,
    ).where(*scope).cte("per_customer").prefix_with("MATERIALIZED")


async def _figures(session: AsyncSession, campaign_id: int | None, since: datetime,
                   until: datetime, margin_rate: float) -> dict[tuple[bool, int | None], Figures]:
    """Figures keyed by (holdout, variant id); shop-wide, variant ids are all None."""
    p = _per_customer(campaign_id, since, until)
    margin = cast(p.c.revenue, Float) * literal(margin_rate, Float) - cast(p.c.cost, Float)
    outcomes = [cast(p.c.bought, Float), cast(p.c.revenue, Float), margin]
    treated_share = literal(1.0, Float) - cast(p.c.holdout_share, Float)
    by_arm = inverse(p.c.propensity)
    by_group = case((p.c.holdout == True, inverse(p.c.holdout_share)),  # noqa: E712
                    else_=inverse(treated_share))
    arm_share = case((p.c.holdout == True, 0.0),  # noqa: E712
                     else_=cast(p.c.propensity, Float) / _guarded(treated_share))
    redeemed = p.c.uses > 0
    moments = len(moment_sums(by_arm, outcomes))
    rows = await session.execute(
        select(p.c.holdout, p.c.variant_id, func.count(),
               func.sum(case((redeemed | (p.c.reached == 1), 1), else_=0)),
               func.sum(case((redeemed, 1), else_=0)), func.sum(p.c.uses),
               func.sum(p.c.bought), func.sum(p.c.revenue), func.sum(p.c.cost),
               func.sum(margin), func.sum(p.c.holdout_share), func.sum(arm_share),
               *moment_sums(by_arm, outcomes), *moment_sums(by_group, outcomes))
        .group_by(p.c.holdout, p.c.variant_id))
    groups = {}
    for row in rows:
        holdout, variant_id, n, reached, redeemed_n, uses_n, buyers, revenue, cost = row[:9]
        m, expected, shares = (float(value or 0) for value in row[9:12])
        arm_sums, group_sums = row[12:12 + moments], row[12 + moments:]
        groups[(bool(holdout), variant_id)] = Figures(
            int(n), int(reached or 0), int(redeemed_n or 0), int(uses_n or 0), int(buyers or 0),
            int(revenue or 0), int(cost or 0), m, expected, shares,
            Outcomes(*moments_of(int(n), arm_sums)), Outcomes(*moments_of(int(n), group_sums)))
    return groups


def _guarded(share: Any) -> Any:
    return case((share > 0, share), else_=literal(1.0, Float))


async def _channels(session: AsyncSession, campaign_id: int | None, since: datetime,
                    until: datetime) -> tuple[ChannelRow, ...]:
    """A campaign's codes by variant and channel; shop-wide, the codes the shop issued
    through the API (campaign or not) by channel."""
    c, r = PromoCode, Redemption
    scope = [c.created_at <= until]
    if campaign_id is not None:
        scope.append(c.campaign_id == campaign_id)
    else:
        scope += [c.source == CodeSource.API, c.created_at >= since]
    live = and_(r.code_id == c.id, r.released_at.is_(None), r.created_at <= until)
    rows = await session.execute(
        select(c.variant_id, c.channel, func.count(distinct(c.id)),
               func.count(distinct(r.customer_id)), func.count(r.id),
               func.sum(r.order_total), func.sum(r.cost))
        .select_from(c).outerjoin(r, live).where(*scope)
        .group_by(c.variant_id, c.channel).order_by(c.variant_id, c.channel))
    return tuple(ChannelRow(variant_id, channel, codes, redeemed, uses, int(revenue or 0),
                            int(cost or 0))
                 for variant_id, channel, codes, redeemed, uses, revenue, cost in rows)


def offer_percent(campaign_offer: dict[str, Any], variant_offer: dict[str, Any],
                  guardrail: GuardrailSettings, average: int) -> Decimal | None:
    """The arm's offer (the campaign's with the variant's fields over it) as the guardrail
    measures it: percent of the order, free shipping at its cost."""
    offer = {**campaign_offer, **variant_offer}
    if not offer.get("discount_type"):
        return None
    check = judge(guardrail, average, "", discount_type=offer["discount_type"],
                  value=int(offer.get("value") or 0),
                  order_value=int(offer.get("min_order") or 0) or None,
                  free_shipping=bool(offer.get("free_shipping")),
                  gift_cost=int(offer.get("gift_cost") or 0))
    return check.requested_percent


async def _arms(session: AsyncSession, campaign_id: int
                ) -> tuple[Campaign | None, list[CampaignVariant]]:
    campaign = await session.get(Campaign, campaign_id)
    variants = (await session.scalars(select(CampaignVariant).where(
        CampaignVariant.campaign_id == campaign_id).order_by(CampaignVariant.id))).all()
    return campaign, list(variants)


def _variants(
    campaign: Campaign | None, variants: list[CampaignVariant],
    groups: dict[tuple[bool, int | None], Figures], guardrail: GuardrailSettings, average: int,
) -> tuple[VariantResult, ...]:
    """Every variant of the campaign (assigned or not yet), and the campaign's own offer
    when customers hold it."""
    own = dict(campaign.offer or {}) if campaign is not None else {}
    arms = [(v.id, v.name, dict(v.offer or {})) for v in variants]
    if not arms or (False, None) in groups:
        arms.insert(0, (None, None, {}))
    holdout = groups.get((True, None), Figures())
    results = []
    for variant_id, name, offer in arms:
        figures = groups.get((False, variant_id), Figures())
        results.append(VariantResult.against(
            variant_id, name, offer_percent(own, offer, guardrail, average), figures, holdout))
    return tuple(results)


async def campaign_stats(
    session: AsyncSession, *, campaign_id: int | None, since: datetime, until: datetime,
    guardrail: GuardrailSettings, global_holdout: float = 0.0,
) -> Stats:
    """One campaign's results, or (`campaign_id` None) every campaign's pooled and, with a
    `global_holdout` percent, the whole program against it."""
    average, _source = await average_order_value(session, guardrail, now=until)
    margin_rate = guardrail.net_profit_per_order / average if average else 0.0
    groups = await _figures(session, campaign_id, since, until, margin_rate)
    treatment = sum((f for (held, _v), f in groups.items() if not held), Figures())
    holdout = sum((f for (held, _v), f in groups.items() if held), Figures())
    variants: tuple[VariantResult, ...] = ()
    steering = None
    if campaign_id is not None:
        campaign, arms = await _arms(session, campaign_id)
        variants = _variants(campaign, arms, groups, guardrail, average)
        if campaign is not None and campaign.optimise and sum(v.weight > 0 for v in arms) > 1:
            steering = await optimiser.steer(session, campaign, arms, now=until,
                                             margin_rate=margin_rate)
    sent, delivered, codes = await _messages(session, campaign_id, since, until)
    whole = None
    if campaign_id is None and global_holdout > 0:
        whole = await program(session, since=since, until=until, percent=global_holdout,
                              margin_rate=margin_rate)
    return Stats(campaign_id, since, until, sent, delivered, codes, margin_rate, treatment,
                 holdout, variants, await _channels(session, campaign_id, since, until), whole,
                 steering)


async def for_campaign(session: AsyncSession, campaign: Campaign, *, now: datetime,
                       guardrail: GuardrailSettings) -> Stats:
    """A campaign over its whole window: since it was created, until now."""
    return await campaign_stats(session, campaign_id=campaign.id,
                                since=min(campaign.created_at, now), until=now,
                                guardrail=guardrail)
