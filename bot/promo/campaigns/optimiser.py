"""The optimiser: a campaign with several offers (say 5, 10 and 15 %) that sends more of
its new recipients to the offer that earns the most margin per recipient, while the
holdout keeps the share it was given.

Method: Thompson sampling in batches (probability matching: W. R. Thompson, Biometrika
25, 1933; D. Russo et al., "A Tutorial on Thompson Sampling", 2018). Before each run,
every variant's margin per recipient has a normal posterior — its weighted mean and that
mean's variance, the large-sample approximation the reports use
(`bot.promo.campaigns.confidence`) — and a variant's share of the new recipients is the
chance, over `DRAWS` draws, that it is the best. Each keeps at least `FLOOR` of the
treated, so that no variant stops being measured and no recipient's weight in the
reports grows past 1 / (FLOOR × treated share). The holdout's baseline is common to all
variants, so the best margin is also the best incremental margin.

A recipient's margin counts over the `window` days after their assignment (the
campaign's `optimise_days`, default 7), as far as those days have come: the orders they
placed (not cancelled, net of returns) times the shop's margin rate, less what this
campaign's codes cost on them. Each recipient weighs 1 / the chance they had of the
variant they got (recorded at assignment), so every variant's mean stands for all the
recipients so far, of every age: an offer given mostly lately does not look worse for
having had less time (the weighing the reports use). Until every variant has
`MIN_MEASURED` recipients, the split stays even.

Every variant was checked against the margin guardrail (a run refuses otherwise) and the
campaign's budget still stops its codes at the checkout: the optimiser only moves shares.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import Float, and_, cast, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import GuardrailSettings
from bot.db.dialect import day_number
from bot.db.models import (
    Campaign,
    CampaignAssignment,
    CampaignVariant,
    Order,
    OrderStatus,
    PromoCode,
    Redemption,
)
from bot.promo.campaigns.confidence import (
    Moments,
    inverse,
    moment_sums,
    moments_of,
    variances_of_means,
)
from bot.promo.campaigns.experiments import Design, design
from bot.promo.codes.guardrail import margin_rate

FLOOR = 0.05
MIN_MEASURED = 30
DRAWS = 4000
DEFAULT_DAYS = 7


@dataclass(frozen=True, slots=True)
class Steering:
    """Where new recipients go now and why, per variant id: how many recipients were
    measured, their margin per recipient over the window (None before any), the chance
    that the variant is the best (None while learning), and its share of the treated."""

    window_days: int
    measured: dict[int, int]
    margin: dict[int, float | None]
    best_chance: dict[int, float] | None
    shares: dict[int, float]

    @property
    def learning(self) -> bool:
        return self.best_chance is None

    @property
    def leader(self) -> int | None:
        if self.best_chance is None:
            return None
        return max(self.best_chance, key=lambda variant: self.best_chance[variant])  # type: ignore[index]


def window_days(campaign: Campaign) -> int:
    return int((campaign.params or {}).get("optimise_days") or DEFAULT_DAYS)


async def _measured(session: AsyncSession, campaign: Campaign, *, now: datetime,
                    margin_rate: float) -> dict[int, Moments]:
    """Each variant's recipients so far: the moments of their margin over the window."""
    a, r, days = CampaignAssignment, Redemption, window_days(campaign)

    def within(moment: Any) -> Any:
        return and_(moment > a.assigned_at,
                    day_number(session, moment) <= day_number(session, a.assigned_at) + days)

    revenue = (select(func.coalesce(func.sum(Order.total - Order.returned_amount), 0))
               .where(Order.customer_id == a.customer_id, within(Order.placed_at),
                      Order.status != OrderStatus.CANCELLED).scalar_subquery())
    cost = (select(func.coalesce(func.sum(r.cost), 0))
            .where(r.customer_id == a.customer_id, r.released_at.is_(None),
                   within(r.created_at), PromoCode.id == r.code_id,
                   PromoCode.campaign_id == a.campaign_id).scalar_subquery())
    per_recipient = select(
        a.variant_id, a.propensity,
        (cast(revenue, Float) * literal(margin_rate, Float) - cast(cost, Float)).label("margin"),
    ).where(a.campaign_id == campaign.id, a.is_holdout.is_(False), a.variant_id.is_not(None),
            a.assigned_at <= now).cte("per_recipient").prefix_with("MATERIALIZED")
    p = per_recipient.c
    rows = await session.execute(
        select(p.variant_id, func.count(), *moment_sums(inverse(p.propensity), [p.margin]))
        .group_by(p.variant_id))
    return {variant_id: moments_of(int(n), sums)[0] for variant_id, n, *sums in rows}


def _seed(campaign_id: int, now: datetime) -> int:
    """The same draws for a campaign all day: a rerun of the day's run splits alike."""
    digest = hashlib.blake2b(f"{campaign_id}:{now.date()}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def best_chances(measured: dict[int, Moments], variants: Sequence[int], seed: int
                 ) -> dict[int, float] | None:
    """The chance that each variant has the highest mean, from normal posteriors; None
    while no recipient's margin differs from another's (nobody has come back yet), when
    there is nothing to tell the variants apart by. A variant none of whose recipients
    came back is uncertain as the others are (`variances_of_means`), not sure to lose
    every draw."""
    variances = variances_of_means([measured[v] for v in variants])
    if variances is None:
        return None
    rng = np.random.default_rng(seed)
    draws = np.stack([rng.normal(measured[v].mean or 0.0, variance ** 0.5, DRAWS)
                      for v, variance in zip(variants, variances, strict=True)])
    wins = np.bincount(draws.argmax(axis=0), minlength=len(variants))
    return {v: float(count) / DRAWS for v, count in zip(variants, wins, strict=True)}


async def steer(session: AsyncSession, campaign: Campaign, variants: Sequence[CampaignVariant],
                *, now: datetime, margin_rate: float) -> Steering:
    ids = [v.id for v in variants if v.weight > 0]
    measured = await _measured(session, campaign, now=now, margin_rate=margin_rate)
    found = {v: measured.get(v, Moments()) for v in ids}
    counts = {v: found[v].n for v in ids}
    margins = {v: found[v].mean for v in ids}
    if not ids or min(counts.values()) < MIN_MEASURED:
        return Steering(window_days(campaign), counts, margins, None,
                        dict.fromkeys(ids, 1 / len(ids)) if ids else {})
    chances = best_chances(found, ids, _seed(campaign.id, now))
    if chances is None:
        return Steering(window_days(campaign), counts, margins, None,
                        dict.fromkeys(ids, 1 / len(ids)))
    spare = 1 - FLOOR * len(ids)
    shares = {v: FLOOR + spare * chances[v] for v in ids}
    return Steering(window_days(campaign), counts, margins, chances, shares)


def steered(split: Design, steering: Steering) -> Design:
    """The campaign's split with the treated shared as the optimiser says."""
    return split.with_shares([steering.shares.get(arm.variant_id or 0, 0.0)
                              for arm in split.arms])


async def split_now(session: AsyncSession, campaign: Campaign,
                    variants: Sequence[CampaignVariant], *, guardrail: GuardrailSettings,
                    now: datetime) -> Design:
    """The split a run would use now: by the weights, or, optimised, as the results so far
    say."""
    split = design(campaign, variants)
    if not campaign.optimise or len(split.arms) < 2:
        return split
    rate = await margin_rate(session, guardrail, now=now)
    return steered(split, await steer(session, campaign, variants, now=now, margin_rate=rate))
